//! End-to-end tests live in `tests/e2e/`: each starts the real server on a free
//! port and drives it over HTTP as a relying party and a browser would.
