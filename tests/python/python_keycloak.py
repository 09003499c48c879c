"""A server-side application written for Keycloak, run unmodified against this
provider: python-keycloak (PyPI) registers a client with an initial access
token through Keycloak's client registration service and gets a service
account token with it; then, as an application an operator set up for the
password grant, signs a user in, reads UserInfo, verifies the access token
against the realm's certificates, introspects it, refreshes, reads the realm's
public key, and logs out with the refresh token, after which the tokens are dead.

Usage: python_keycloak.py SERVER_URL REALM INITIAL_ACCESS_TOKEN USERNAME PASSWORD CLIENT_ID CLIENT_SECRET
Prints one line per step; exits non-zero on the first failure.
"""

import sys

from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError


def step(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (": " + str(detail) if detail else ""), flush=True)
    if not ok:
        sys.exit(1)


def main():
    server, realm, iat, username, password, client_id, client_secret = sys.argv[1:8]
    anonymous = KeycloakOpenID(server_url=server + "/", realm_name=realm, client_id="unused")
    well_known = anonymous.well_known()
    step("discovery", well_known["issuer"] == f"{server}/realms/{realm}", well_known["issuer"])

    created = anonymous.register_client(
        iat,
        {"clientId": "python-service", "serviceAccountsEnabled": True, "standardFlowEnabled": False},
    )
    step("register_client", created["clientId"] == "python-service" and created.get("secret"), created.get("clientId"))
    service = KeycloakOpenID(
        server_url=server + "/", realm_name=realm, client_id="python-service", client_secret_key=created["secret"]
    )
    service_token = service.token(grant_type="client_credentials")
    claims = service.decode_token(service_token["access_token"])
    step("client_credentials token verified with the realm's certs", claims.get("azp") == "python-service", claims)

    app = KeycloakOpenID(server_url=server + "/", realm_name=realm, client_id=client_id, client_secret_key=client_secret)
    tokens = app.token(username, password, scope="openid profile email")
    step("token (password grant)", "access_token" in tokens and "refresh_token" in tokens, sorted(tokens))

    info = app.userinfo(tokens["access_token"])
    step("userinfo", info.get("preferred_username") == username, info)

    claims = app.decode_token(tokens["access_token"])
    step("decode_token (verified with the realm's certs)", claims.get("azp") == client_id, claims.get("azp"))

    active = app.introspect(tokens["access_token"])
    step("introspect", active.get("active") is True and active.get("client_id") == client_id, active)

    refreshed = app.refresh_token(tokens["refresh_token"])
    step("refresh_token", refreshed["access_token"] != tokens["access_token"], "new access token")

    key = app.public_key()
    step("public_key", isinstance(key, str) and len(key) > 100, len(key))

    app.logout(refreshed["refresh_token"])
    step("logout", True)
    try:
        app.refresh_token(refreshed["refresh_token"])
        step("refresh after logout is refused", False, "it worked")
    except KeycloakError as e:
        step("refresh after logout is refused", True, e.response_code)
    gone = app.introspect(refreshed["access_token"])
    step("introspect after logout", gone == {"active": False}, gone)


if __name__ == "__main__":
    main()
