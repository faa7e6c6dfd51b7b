//! Registry credentials from a Docker `config.json`, as `docker login`,
//! `podman login --authfile` and `skopeo login` write it, and as a
//! Kubernetes `kubernetes.io/dockerconfigjson` pull secret holds it.
//!
//! Which file: `--docker-config FILE`; else `$DOCKER_CONFIG/config.json`;
//! else `$HOME/.docker/config.json` (the Docker CLI's order, which
//! Kubewarden's `docker_credential` follows too). A file named with the flag
//! must exist; the others are used when they exist. A file that is not JSON,
//! or an `auths` entry that cannot be read, is an error naming the file and
//! the entry: a pull that silently went anonymous would fail later with a
//! far less useful "unauthorized".
//!
//! What is read: `auths.<registry>.auth` (base64 of `user:password`) or
//! `auths.<registry>.username` and `.password`. Keys are matched the way the
//! Docker CLI writes them: with or without `https://`/`http://` and a path
//! (`https://index.docker.io/v1/` is Docker Hub), host names in any letter
//! case, and Docker Hub's three names as one. Credential helpers
//! (`credsStore`, `credHelpers`) are not run and identity tokens are not
//! used: such registries are contacted anonymously, and an "unauthorized"
//! answer says so.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

/// Docker Hub's registry, as image references name it.
const DOCKER_HUB: &str = "docker.io";

/// User name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password (or token used as one).
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What the file holds for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Basic credentials.
    Basic(BasicAuth),
    /// An entry imagegate cannot use (an identity token, or nothing usable),
    /// with what it holds, for messages.
    Unusable(&'static str),
}

/// The credentials of one `config.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    /// Where it was read from.
    pub path: PathBuf,
    /// Normalized registry name → entry.
    entries: Vec<(String, Entry)>,
    /// Registries a credential helper is configured for, normalized;
    /// `*` for `credsStore` (every registry).
    helpers: Vec<String>,
}

/// Where the credentials come from: the flag's file, else the first of the
/// environment's that exists.
pub fn locate(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_owned());
    }
    let candidates = [
        std::env::var_os("DOCKER_CONFIG").map(|dir| PathBuf::from(dir).join("config.json")),
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json")),
    ];
    candidates.into_iter().flatten().find(|path| path.is_file())
}

/// Loads the credentials `--docker-config` (or the environment) names, if
/// any. The error names the file.
pub fn load(flag: Option<&Path>) -> Result<Option<DockerConfig>, String> {
    let Some(path) = locate(flag) else {
        return Ok(None);
    };
    let name = path.display().to_string();
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("docker config \"{name}\": cannot read it: {e}"))?;
    DockerConfig::parse(&path, &bytes)
        .map(Some)
        .map_err(|problem| format!("docker config \"{name}\": {problem}"))
}

/// The registry a config key or an image reference names, normalized for
/// comparison: no scheme, no path, lower case, Docker Hub as `docker.io`.
pub fn registry_key(name: &str) -> String {
    let name = name
        .strip_prefix("https://")
        .or_else(|| name.strip_prefix("http://"))
        .unwrap_or(name);
    let host = name.split('/').next().unwrap_or(name).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DOCKER_HUB.to_owned(),
        _ => host,
    }
}

impl DockerConfig {
    /// Reads a `config.json`. Keys imagegate does not use are ignored
    /// (the file holds much else: `HttpHeaders`, `proxies`, ...).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<DockerConfig, String> {
        let document: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(top) = document else {
            return Err("expected a JSON object".into());
        };
        let mut config = DockerConfig {
            path: path.to_owned(),
            ..DockerConfig::default()
        };
        match top.get("auths") {
            None | Some(Value::Null) => {}
            Some(Value::Object(auths)) => {
                for (key, value) in auths {
                    let entry =
                        entry(value).map_err(|problem| format!("auths.{key:?}: {problem}"))?;
                    config.entries.push((registry_key(key), entry));
                }
            }
            Some(_) => return Err("auths: expected an object".into()),
        }
        if top.get("credsStore").is_some_and(|v| !v.is_null()) {
            config.helpers.push("*".into());
        }
        if let Some(Value::Object(helpers)) = top.get("credHelpers") {
            config
                .helpers
                .extend(helpers.keys().map(|k| registry_key(k)));
        }
        Ok(config)
    }

    /// The entry for `registry` (a reference's registry, e.g. `docker.io`,
    /// `127.0.0.1:5000`), if the file has one.
    pub fn entry(&self, registry: &str) -> Option<&Entry> {
        let key = registry_key(registry);
        self.entries
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, entry)| entry)
    }

    /// Basic credentials for `registry`, if the file has usable ones.
    pub fn basic_auth(&self, registry: &str) -> Option<&BasicAuth> {
        match self.entry(registry) {
            Some(Entry::Basic(auth)) => Some(auth),
            _ => None,
        }
    }

    /// How a pull from `registry` authenticates: `as user "alice" from
    /// FILE`, or why it goes anonymously. For "unauthorized" answers.
    pub fn how_pulled(&self, registry: &str) -> String {
        let path = self.path.display();
        match self.entry(registry) {
            Some(Entry::Basic(auth)) => {
                return format!("as user {:?} from {path}", auth.username);
            }
            Some(Entry::Unusable(what)) => {
                return format!(
                    "anonymously: the entry for {} in {path} holds {what}, which imagegate \
                     does not use",
                    registry_key(registry)
                );
            }
            None => {}
        }
        let key = registry_key(registry);
        if self.helpers.iter().any(|h| *h == key || h == "*") {
            format!(
                "anonymously: {path} names a credential helper for {key}; imagegate reads only \
                 auths entries (log in with a file: docker login --config DIR)"
            )
        } else {
            format!("anonymously: {path} has no auths entry for {key}")
        }
    }
}

/// One `auths` entry.
fn entry(value: &Value) -> Result<Entry, String> {
    let Value::Object(fields) = value else {
        return Err("expected an object".into());
    };
    let text = |key: &str| match fields.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.as_str())),
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(None),
        Some(_) => Err(format!("{key}: expected a string")),
    };
    if let Some(auth) = text("auth")? {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or("auth: not base64 text")?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or("auth: expected base64 of user:password")?;
        return Ok(Entry::Basic(BasicAuth {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }
    match (text("username")?, text("password")?) {
        (Some(username), Some(password)) => Ok(Entry::Basic(BasicAuth {
            username: username.to_owned(),
            password: password.to_owned(),
        })),
        (Some(_), None) => Err("username without password".into()),
        _ if text("identitytoken")?.is_some() => Ok(Entry::Unusable("an identity token")),
        _ => Ok(Entry::Unusable("no credentials")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DockerConfig, String> {
        DockerConfig::parse(Path::new("/c/config.json"), text.as_bytes())
    }

    fn basic(username: &str, password: &str) -> Option<BasicAuth> {
        Some(BasicAuth {
            username: username.into(),
            password: password.into(),
        })
    }

    #[test]
    fn base64_auth_and_username_password_forms() {
        // "alice:s3cret:with:colons"
        let config = parse(
            r#"{"auths": {
                "127.0.0.1:5000": {"auth": "YWxpY2U6czNjcmV0OndpdGg6Y29sb25z"},
                "https://index.docker.io/v1/": {"username": "bob", "password": "pw"},
                "http://Harbor.Example:8443/v2/": {"username": "carol", "password": "x"}
            }, "HttpHeaders": {"User-Agent": "x"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.basic_auth("127.0.0.1:5000").cloned(),
            basic("alice", "s3cret:with:colons")
        );
        assert_eq!(config.basic_auth("docker.io").cloned(), basic("bob", "pw"));
        assert_eq!(
            config.basic_auth("index.docker.io").cloned(),
            basic("bob", "pw")
        );
        assert_eq!(
            config.basic_auth("harbor.example:8443").cloned(),
            basic("carol", "x")
        );
        assert_eq!(config.basic_auth("127.0.0.1:5001"), None);
        assert_eq!(
            config.how_pulled("127.0.0.1:5001"),
            "anonymously: /c/config.json has no auths entry for 127.0.0.1:5001"
        );
    }

    #[test]
    fn helpers_and_identity_tokens_are_named() {
        let config = parse(
            r#"{"auths": {"ghcr.io": {}, "quay.io": {"identitytoken": "t"}},
                "credHelpers": {"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.basic_auth("quay.io"), None);
        assert!(
            config
                .how_pulled("quay.io")
                .contains("holds an identity token")
        );
        assert!(
            config
                .how_pulled("123.dkr.ecr.us-east-1.amazonaws.com")
                .contains("names a credential helper")
        );
        assert!(
            config
                .how_pulled("ghcr.io")
                .contains("holds no credentials")
        );
    }

    #[test]
    fn malformed_entries_are_errors_that_name_them() {
        assert_eq!(
            parse(r#"{"auths": {"r": {"auth": "%%%"}}}"#),
            Err("auths.\"r\": auth: not base64 text".into())
        );
        assert_eq!(
            parse(r#"{"auths": {"r": {"auth": "bm9jb2xvbg=="}}}"#),
            Err("auths.\"r\": auth: expected base64 of user:password".into())
        );
        assert_eq!(
            parse(r#"{"auths": {"r": {"username": "u"}}}"#),
            Err("auths.\"r\": username without password".into())
        );
        assert_eq!(
            parse(r#"{"auths": []}"#),
            Err("auths: expected an object".into())
        );
        assert!(parse("nope").is_err_and(|e| e.starts_with("not JSON")));
    }

    #[test]
    fn passwords_are_not_printed() {
        let auth = BasicAuth {
            username: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{auth:?}").contains("secret"));
    }
}
