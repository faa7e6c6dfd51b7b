//! Registry patterns (SPEC 2.1): `host[:port]` with `*`/`?` wildcards, the
//! default-port rules, `insecure` entries and registry aliases.
//!
//! A registry is split into host and port before anything is compared, so a
//! wildcard in the host can never swallow a port and an IPv6 host keeps its
//! brackets (`*` matches `[::1]`, `*:*` matches `[::1]:5000`).

use crate::matcher::glob::{Glob, has_wildcard};
use crate::reference::{grammar, normalize};

/// The port HTTPS registries listen on when none is written.
pub const HTTPS_PORT: &str = "443";
/// The port an `insecure: true` entry without a port stands for.
pub const HTTP_PORT: &str = "80";

/// A compiled registry pattern.
#[derive(Debug, Clone)]
pub struct RegistryPattern {
    host: Glob,
    port: PortPattern,
    insecure: bool,
}

#[derive(Debug, Clone)]
enum PortPattern {
    /// No port written: the registry's default port (443, or 80 if insecure).
    Default,
    /// A written port, possibly with wildcards (`*` alone matches any port,
    /// including none).
    Written(Glob),
}

impl RegistryPattern {
    /// Parses `host[:port]`; `insecure` comes from the `{domainName, insecure}`
    /// form of an entry. The error is the problem, without the entry's text.
    pub fn parse(text: &str, insecure: bool) -> Result<RegistryPattern, String> {
        if text.is_empty() {
            return Err("a registry pattern must not be empty".into());
        }
        if let Some((scheme, rest)) = text.split_once("://") {
            return Err(format!(
                "write the registry without the {scheme}:// scheme, e.g. \"{}\"",
                rest.trim_end_matches('/')
            ));
        }
        if let Some(slash) = text.find('/') {
            let registry = &text[..slash];
            // `quay.io/`: a prefix, as Gatekeeper's `repos` write it.
            if text[slash..].bytes().all(|b| b == b'/') {
                return Err(format!(
                    "write the registry without the trailing \"/\", \"{registry}\": a registry entry already covers every repository in it"
                ));
            }
            let repository = text.trim_end_matches('*').trim_end_matches('/');
            return Err(format!(
                "a registry pattern has no repository path; to trust a repository and everything below it use repositories, e.g. \"{repository}\", or write the registry alone, \"{registry}\""
            ));
        }
        if text.contains('@') {
            return Err("a registry pattern has no digest".into());
        }
        let (host, port) = split_pattern(text)?;
        check_host(host)?;
        let port = match port {
            None => PortPattern::Default,
            Some("") => return Err("the port after \":\" is empty".into()),
            Some(p) => {
                if !p
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'*' || b == b'?')
                {
                    return Err(format!("port \"{p}\" must be digits, `*` or `?`"));
                }
                PortPattern::Written(Glob::new(normalize::canonical_port(p), false))
            }
        };
        // Docker Hub's other names are Docker Hub on its default port only:
        // `index.docker.io:5000` is some other registry, as in images.
        let host = if normalize::is_docker_hub(text) {
            crate::reference::DOCKER_HUB
        } else {
            host
        };
        Ok(RegistryPattern {
            host: Glob::new(host, true),
            port,
            insecure,
        })
    }

    /// The host (lower-cased) when it has no wildcard: entries are indexed
    /// by it, so an image is matched only against entries for its registry
    /// and the wildcard ones.
    pub fn literal_host(&self) -> Option<&str> {
        self.host.is_literal().then(|| self.host.as_str())
    }

    /// True when the pattern has no wildcard.
    pub fn is_exact(&self) -> bool {
        self.host.is_literal()
            && match &self.port {
                PortPattern::Default => true,
                PortPattern::Written(g) => g.is_literal(),
            }
    }

    /// True when the host part matches every host (`*`).
    pub fn matches_any_host(&self) -> bool {
        self.host.as_str().bytes().all(|b| b == b'*')
    }

    /// True when the port part matches every port and none (`:*`).
    pub fn matches_any_port(&self) -> bool {
        matches!(&self.port, PortPattern::Written(g) if g.as_str().bytes().all(|b| b == b'*'))
    }

    /// True when both patterns stand for exactly the same ports: both the
    /// default port (of the same scheme), or the same literal port.
    pub fn same_port_as(&self, other: &RegistryPattern) -> bool {
        match (&self.port, &other.port) {
            (PortPattern::Default, PortPattern::Default) => self.insecure == other.insecure,
            (PortPattern::Written(a), PortPattern::Written(b)) => {
                a.is_literal() && b.is_literal() && a.as_str() == b.as_str()
            }
            _ => false,
        }
    }

    /// The normalized text of the pattern, used to find the same entry in an
    /// allow and a reject list.
    pub fn canonical(&self) -> String {
        let mut s = self.host.as_str().to_owned();
        match &self.port {
            PortPattern::Default => {}
            PortPattern::Written(g) => {
                s.push(':');
                s.push_str(g.as_str());
            }
        }
        if self.insecure {
            s.push_str(" (insecure)");
        }
        s
    }

    /// Whether the pattern matches any of the names a registry is known by.
    pub fn matches(&self, names: &RegistryNames<'_>) -> bool {
        names
            .iter()
            .any(|(host, port)| self.matches_name(host, port))
    }

    /// Whether the pattern matches one registry name.
    pub fn matches_name(&self, host: &str, port: Option<&str>) -> bool {
        let port_ok = match (&self.port, port) {
            (PortPattern::Default, None) => true,
            (PortPattern::Default, Some(p)) => {
                p == if self.insecure { HTTP_PORT } else { HTTPS_PORT }
            }
            (PortPattern::Written(g), None) => g.as_str() == "*" || g.matches(HTTPS_PORT),
            (PortPattern::Written(g), Some(p)) => g.matches(p),
        };
        port_ok && self.host.matches(host)
    }
}

/// Splits a pattern into host and port; IPv6 hosts must be bracketed.
fn split_pattern(text: &str) -> Result<(&str, Option<&str>), String> {
    if text.starts_with('[') {
        let Some(close) = text.find(']') else {
            return Err("an IPv6 host needs its closing \"]\"".into());
        };
        let (host, rest) = text.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected \"{rest}\" after the IPv6 host")),
        };
    }
    match text.split_once(':') {
        Some((_, port)) if port.contains(':') => {
            Err("an IPv6 host must be written in brackets, e.g. \"[::1]:5000\"".into())
        }
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((text, None)),
    }
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'*' | b'?'))
        {
            return Err(format!("\"{host}\" is not a bracketed IPv6 address"));
        }
        return Ok(());
    }
    if let Some(bad) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | '?')))
    {
        return Err(format!(
            "host \"{host}\" contains {bad:?}; hosts are letters, digits, '.', '-' and the wildcards '*' and '?'"
        ));
    }
    if !has_wildcard(host) && !grammar::is_domain(host) {
        return Err(format!(
            "\"{host}\" is not a valid host name (empty label, or a label starting or ending with '-')"
        ));
    }
    Ok(())
}

/// One group of names that denote the same registry (mirrors, a port and no
/// port, Docker Hub's three names).
#[derive(Debug, Clone, Default)]
pub struct Aliases {
    groups: Vec<Vec<(String, Option<String>)>>,
}

impl Aliases {
    /// Adds a group of `host[:port]` names (already validated).
    pub fn add_group(&mut self, names: Vec<(String, Option<String>)>) {
        self.groups.push(names);
    }

    /// Every name the registry `domain` is known by, itself first.
    pub fn names<'a>(&'a self, domain: &'a str) -> RegistryNames<'a> {
        let (host, port) = grammar::split_host_port(domain);
        // `:0443` is port 443 to a runtime; compared as written it would slip
        // past every entry for the default port.
        let port = port.map(normalize::canonical_port);
        let mut names = RegistryNames {
            own: (host, port),
            extra: Vec::new(),
        };
        if normalize::is_docker_hub(domain) {
            names
                .extra
                .extend(normalize::DOCKER_HUB_ALIASES.iter().map(|n| (*n, None)));
        }
        for group in &self.groups {
            if group
                .iter()
                .any(|(h, p)| same_name(h, p.as_deref(), host, port))
            {
                names
                    .extra
                    .extend(group.iter().map(|(h, p)| (h.as_str(), p.as_deref())));
            }
        }
        names
    }
}

/// Hosts compare case-insensitively; no port and 443 are the same port.
fn same_name(h1: &str, p1: Option<&str>, h2: &str, p2: Option<&str>) -> bool {
    h1.eq_ignore_ascii_case(h2) && p1.unwrap_or(HTTPS_PORT) == p2.unwrap_or(HTTPS_PORT)
}

/// The names one registry is known by: its own and its aliases'.
#[derive(Debug, Clone)]
pub struct RegistryNames<'a> {
    own: (&'a str, Option<&'a str>),
    extra: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> RegistryNames<'a> {
    /// Iterates `(host, port)` pairs, the registry's own name first.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + '_ {
        std::iter::once(self.own).chain(self.extra.iter().copied())
    }
}

/// Parses one `registryAliases` name: an exact `host[:port]`.
pub fn parse_alias(text: &str) -> Result<(String, Option<String>), String> {
    if has_wildcard(text) {
        return Err("an alias is an exact registry name, without wildcards".into());
    }
    RegistryPattern::parse(text, false)?;
    let (host, port) = split_pattern(text)?;
    Ok((
        if normalize::is_docker_hub(text) {
            crate::reference::DOCKER_HUB.to_owned()
        } else {
            host.to_ascii_lowercase()
        },
        port.map(|p| normalize::canonical_port(p).to_owned()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> RegistryPattern {
        match RegistryPattern::parse(s, false) {
            Ok(p) => p,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn insecure(s: &str) -> RegistryPattern {
        match RegistryPattern::parse(s, true) {
            Ok(p) => p,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn m(p: &RegistryPattern, domain: &str) -> bool {
        let aliases = Aliases::default();
        p.matches(&aliases.names(domain))
    }

    #[test]
    fn no_port_means_default_port() {
        let p = pat("ghcr.io");
        assert!(m(&p, "ghcr.io"));
        assert!(m(&p, "ghcr.io:443"));
        assert!(!m(&p, "ghcr.io:5000"));
        assert!(!m(&p, "ghcr.io:80"));
    }

    #[test]
    fn insecure_entry_means_port_80_not_443() {
        let p = insecure("*.mydomain.com");
        assert!(m(&p, "registry.mydomain.com"));
        assert!(m(&p, "registry.mydomain.com:80"));
        assert!(!m(&p, "registry.mydomain.com:443"));
        assert!(!m(&p, "registry.mydomain.com:5000"));
    }

    #[test]
    fn hosts_compare_case_insensitively() {
        assert!(m(&pat("GHCR.IO"), "ghcr.io"));
        assert!(m(&pat("ghcr.io"), "GHCR.io"));
        assert!(m(&pat("evilhost"), "EVILHOST"));
    }

    #[test]
    fn star_matches_every_host_on_the_default_port() {
        let p = pat("*");
        assert!(m(&p, "ghcr.io"));
        assert!(m(&p, "[::1]"));
        assert!(!m(&p, "ghcr.io:5000"));
        assert!(!m(&p, "[::1]:5000"));
    }

    #[test]
    fn star_star_matches_every_host_and_port() {
        let p = pat("*:*");
        assert!(m(&p, "ghcr.io"));
        assert!(m(&p, "ghcr.io:5000"));
        assert!(m(&p, "[::1]:5000"));
        assert!(m(&p, "localhost"));
    }

    #[test]
    fn subdomain_wildcard_needs_a_subdomain() {
        let p = pat("*.example.com");
        assert!(m(&p, "a.example.com"));
        assert!(m(&p, "a.b.example.com"));
        assert!(!m(&p, "example.com"));
        assert!(!m(&p, "evilexample.com"));
    }

    #[test]
    fn explicit_port() {
        let p = pat("local.registry.corp:5000");
        assert!(m(&p, "local.registry.corp:5000"));
        assert!(!m(&p, "local.registry.corp"));
        assert!(!m(&p, "local.registry.corp:5001"));
        assert!(m(&pat("ghcr.io:443"), "ghcr.io"));
    }

    #[test]
    fn docker_hub_names_are_one_registry() {
        for pattern in normalize::DOCKER_HUB_ALIASES {
            for domain in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
                // Images are normalized to docker.io before matching.
                let domain = normalize::canonical_domain(domain);
                assert!(m(&pat(pattern), domain), "{pattern} vs {domain}");
            }
        }
        assert!(m(&pat("*.docker.io"), "docker.io"));
    }

    #[test]
    fn ports_compare_as_numbers() {
        // `:0443` is 443 to a runtime: it must not slip past an entry for
        // the default port (a reject of ghcr.io, say).
        assert!(m(&pat("ghcr.io"), "ghcr.io:0443"));
        assert!(m(&pat("ghcr.io"), "ghcr.io:000443"));
        assert!(m(&pat("ghcr.io:5000"), "ghcr.io:05000"));
        assert!(m(&pat("ghcr.io:05000"), "ghcr.io:5000"));
        assert!(!m(&pat("ghcr.io"), "ghcr.io:4430"));
        assert!(m(&insecure("reg.corp"), "reg.corp:080"));
    }

    #[test]
    fn docker_hub_names_with_the_default_port_are_docker_hub() {
        for domain in [
            "docker.io:443",
            "index.docker.io:443",
            "REGISTRY-1.docker.io:0443",
        ] {
            // As images normalize them, and as written.
            assert!(m(&pat("docker.io"), normalize::canonical_domain(domain)));
            assert!(m(&pat("docker.io"), domain), "{domain}");
        }
        assert!(!m(&pat("docker.io"), "registry-1.docker.io:5000"));
        // Found by fuzz/reference: an entry written as the image must match
        // it; with another port, Docker Hub's names are just host names.
        assert!(m(&pat("index.docker.io:4"), "index.docker.io:4"));
        assert!(!m(&pat("index.docker.io:4"), "docker.io:4"));
        assert!(m(&pat("index.docker.io:443"), "docker.io"));
    }

    #[test]
    fn aliases_join_names_of_one_registry() {
        let mut aliases = Aliases::default();
        aliases.add_group(vec![
            ("harbor.corp.example".into(), None),
            ("harbor.corp.example".into(), Some("8443".into())),
        ]);
        let p = pat("harbor.corp.example");
        assert!(p.matches(&aliases.names("harbor.corp.example:8443")));
        assert!(!p.matches(&Aliases::default().names("harbor.corp.example:8443")));
    }

    #[test]
    fn ipv6_hosts() {
        assert!(m(&pat("[::1]:5000"), "[::1]:5000"));
        assert!(!m(&pat("[::1]"), "[::1]:5000"));
        assert!(RegistryPattern::parse("::1", false).is_err());
    }

    #[test]
    fn malformed_patterns_say_why() {
        for (text, needle) in [
            ("", "empty"),
            ("https://ghcr.io", "scheme"),
            ("ghcr.io/org", "repositories"),
            ("ghcr.io:abc", "port"),
            ("ghcr.io:", "empty"),
            ("gh cr.io", "contains"),
            ("ghcr..io", "not a valid host"),
            ("[::1", "closing"),
        ] {
            match RegistryPattern::parse(text, false) {
                Ok(_) => panic!("{text:?} should be refused"),
                Err(e) => assert!(e.contains(needle), "{text:?}: {e}"),
            }
        }
    }
}
