//! Docker Hub normalization: what a runtime does to a name before pulling.
//!
//! Kept apart from the grammar, as distribution/reference keeps
//! `normalize.go` apart from `reference.go`: the grammar says whether a
//! string is well formed; normalization says which registry and repository
//! it means. Three rules, in this order:
//!
//! 1. no registry means [`DOCKER_HUB`];
//! 2. Docker Hub's other names ([`DOCKER_HUB_ALIASES`]) mean [`DOCKER_HUB`];
//! 3. a one-component repository on Docker Hub is an official image and gets
//!    [`OFFICIAL_PREFIX`] (`nginx` and `registry-1.docker.io/nginx` are both
//!    `docker.io/library/nginx`).
//!
//! A tag is never added here: "no tag" and "tag latest" stay distinct, and
//! [`Reference::effective_tag`](super::Reference::effective_tag) supplies
//! `latest` where the runtime would.

use super::{DOCKER_HUB, OFFICIAL_PREFIX};

/// The names of Docker Hub that normalize to [`DOCKER_HUB`].
///
/// distribution maps only `index.docker.io` (and only in lower case);
/// `registry-1.docker.io` is the host Docker Hub actually serves from, and
/// host names are case-insensitive, so a policy that rejects Docker Hub must
/// see all of these as Docker Hub (SPEC §1: `registry-1.docker.io/nginx` is
/// `docker.io/library/nginx`). Written with the default port (`:443`, or
/// `:0443`: runtimes read a port as a number) they are still Docker Hub, so
/// that `registry-1.docker.io:443/nginx` cannot slip past what
/// `registry-1.docker.io/nginx` would meet; any other port is another
/// registry.
pub const DOCKER_HUB_ALIASES: &[&str] = &[DOCKER_HUB, "index.docker.io", "registry-1.docker.io"];

/// The normalized registry: [`DOCKER_HUB`] for any of
/// [`DOCKER_HUB_ALIASES`] compared ASCII-case-insensitively, otherwise the
/// input as written (case kept: `EVILHOST` stays `EVILHOST`).
///
/// ```
/// use imagegate_policy::reference::normalize::canonical_domain;
/// assert_eq!(canonical_domain("INDEX.DOCKER.IO"), "docker.io");
/// assert_eq!(canonical_domain("ghcr.io"), "ghcr.io");
/// ```
pub fn canonical_domain(domain: &str) -> &str {
    if is_docker_hub(domain) {
        DOCKER_HUB
    } else {
        domain
    }
}

/// Whether a registry as written is Docker Hub under one of its names, with
/// no port or the default one.
pub fn is_docker_hub(domain: &str) -> bool {
    let (host, port) = super::grammar::split_host_port(domain);
    port.is_none_or(|p| canonical_port(p) == "443")
        && DOCKER_HUB_ALIASES
            .iter()
            .any(|alias| alias.eq_ignore_ascii_case(host))
}

/// A port as the number it is: leading zeros dropped (`0443` is `443`, as a
/// runtime's dialer reads it; `000` is `0`). Anything but ASCII digits is
/// returned as it is.
///
/// ```
/// use imagegate_policy::reference::normalize::canonical_port;
/// assert_eq!(canonical_port("0443"), "443");
/// assert_eq!(canonical_port("5000"), "5000");
/// assert_eq!(canonical_port("00"), "0");
/// ```
pub fn canonical_port(port: &str) -> &str {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return port;
    }
    let trimmed = port.trim_start_matches('0');
    if trimmed.is_empty() {
        port.get(port.len() - 1..).unwrap_or(port)
    } else {
        trimmed
    }
}

/// The registry a name means: [`canonical_domain`] of the written registry,
/// or [`DOCKER_HUB`] when none was written.
pub fn normalize_domain(domain: Option<&str>) -> &str {
    domain.map_or(DOCKER_HUB, canonical_domain)
}

/// The prefix the repository path gets on a normalized registry:
/// [`OFFICIAL_PREFIX`] for a one-component path on Docker Hub, `""`
/// otherwise. `domain` must already be normalized.
///
/// ```
/// use imagegate_policy::reference::normalize::official_prefix;
/// assert_eq!(official_prefix("docker.io", "nginx"), "library/");
/// assert_eq!(official_prefix("docker.io", "bitnami/redis"), "");
/// assert_eq!(official_prefix("ghcr.io", "nginx"), "");
/// ```
pub fn official_prefix(domain: &str, path: &str) -> &'static str {
    if domain == DOCKER_HUB && super::ascii::find(path, b'/').is_none() {
        OFFICIAL_PREFIX
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_aliases_in_any_case() {
        for (input, expected) in [
            ("docker.io", "docker.io"),
            ("index.docker.io", "docker.io"),
            ("registry-1.docker.io", "docker.io"),
            ("INDEX.DOCKER.IO", "docker.io"),
            ("Docker.IO", "docker.io"),
            ("Registry-1.Docker.Io", "docker.io"),
            // The default port is still Docker Hub, however written.
            ("docker.io:443", "docker.io"),
            ("INDEX.docker.io:0443", "docker.io"),
            ("registry-1.docker.io:443", "docker.io"),
            // Not aliases: kept exactly as written.
            ("docker.io:5000", "docker.io:5000"),
            ("registry-1.docker.io:80", "registry-1.docker.io:80"),
            ("docker.io:", "docker.io:"),
            ("registry-2.docker.io", "registry-2.docker.io"),
            ("docker.io.", "docker.io."),
            ("EVILHOST", "EVILHOST"),
            ("ghcr.io", "ghcr.io"),
            ("", ""),
        ] {
            assert_eq!(
                canonical_domain(input),
                expected,
                "canonical_domain({input:?})"
            );
        }
    }

    #[test]
    fn library_prefix_only_for_one_component_docker_hub_paths() {
        for (domain, path, expected) in [
            ("docker.io", "nginx", "library/"),
            ("docker.io", "library/nginx", ""),
            ("docker.io", "bitnami/redis", ""),
            ("ghcr.io", "nginx", ""),
            ("localhost", "foo", ""),
        ] {
            assert_eq!(
                official_prefix(domain, path),
                expected,
                "official_prefix({domain:?}, {path:?})"
            );
        }
        assert_eq!(normalize_domain(None), DOCKER_HUB);
        assert_eq!(normalize_domain(Some("index.docker.io")), DOCKER_HUB);
        assert_eq!(normalize_domain(Some("quay.io")), "quay.io");
    }
}
