//! HTML templates (minijinja): the defaults are compiled in from `templates/`,
//! and an operator's directory may override any of them by file name.

use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

/// The templates and static files the provider renders.
const DEFAULTS: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    ("login.html", include_str!("../../../templates/login.html")),
    ("authorize.html", include_str!("../../../templates/authorize.html")),
    ("error.html", include_str!("../../../templates/error.html")),
    ("logged_out.html", include_str!("../../../templates/logged_out.html")),
    ("logout_confirm.html", include_str!("../../../templates/logout_confirm.html")),
    ("check_session.html", include_str!("../../../templates/check_session.html")),
    ("third_party_cookies.html", include_str!("../../../templates/third_party_cookies.html")),
    ("form_post.html", include_str!("../../../templates/form_post.html")),
    ("demo.html", include_str!("../../../templates/demo.html")),
    ("account.html", include_str!("../../../templates/account.html")),
];

const STATIC: &[(&str, &str, &str)] = &[
    ("oidc.css", "text/css; charset=utf-8", include_str!("../../../templates/static/oidc.css")),
    ("demo.js", "text/javascript; charset=utf-8", include_str!("../../../templates/static/demo.js")),
    ("logout.js", "text/javascript; charset=utf-8", include_str!("../../../templates/static/logout.js")),
    ("check_session.js", "text/javascript; charset=utf-8", include_str!("../../../templates/static/check_session.js")),
    (
        "third_party_cookies.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../templates/static/third_party_cookies.js"),
    ),
];

/// A template that failed to load or render.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A file of the override directory could not be read.
    #[error("cannot read template {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A template has a syntax error, or rendering failed.
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
}

/// The loaded templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    statics: Vec<(String, &'static str, bytes::Bytes)>,
}

impl Templates {
    /// The built-in templates, each replaced by the file of the same name in
    /// `override_dir` when it exists there (static files under `static/`).
    pub fn load(override_dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        // Every template is HTML, whatever its name: always escape.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        for (name, source) in DEFAULTS {
            let text = match override_dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|source| TemplateError::Read { path: path.display().to_string(), source })?,
                None => (*source).to_owned(),
            };
            env.add_template_owned(*name, text)?;
        }
        let mut statics = Vec::new();
        for (name, ctype, body) in STATIC {
            let body = match override_dir.map(|d| d.join("static").join(name)).filter(|p| p.is_file()) {
                Some(path) => bytes::Bytes::from(
                    std::fs::read(&path)
                        .map_err(|source| TemplateError::Read { path: path.display().to_string(), source })?,
                ),
                None => bytes::Bytes::from_static(body.as_bytes()),
            };
            statics.push(((*name).to_owned(), *ctype, body));
        }
        Ok(Templates { env, statics })
    }

    /// Renders template `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, TemplateError> {
        Ok(self.env.get_template(name)?.render(ctx)?)
    }

    /// A static file: its content type and bytes.
    pub(crate) fn static_file(&self, name: &str) -> Option<(&'static str, bytes::Bytes)> {
        self.statics.iter().find(|(n, _, _)| n == name).map(|(_, t, b)| (*t, b.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn every_template_renders_and_escapes() {
        let t = Templates::load(None).unwrap();
        let html = t
            .render(
                "error.html",
                context! { realm => "r", static_url => "/static", error => "<script>x</script>", description => "d" },
            )
            .unwrap();
        assert!(html.contains("&lt;script&gt;x&lt;"), "{html}");
        assert!(!html.contains("<script>x"));
    }

    #[test]
    fn override_directory_replaces_a_template() {
        let dir = std::env::temp_dir().join(format!("oidc-tpl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("error.html"), "custom {{ error }}").unwrap();
        let t = Templates::load(Some(&dir)).unwrap();
        assert_eq!(t.render("error.html", context! { error => "e" }).unwrap(), "custom e");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
