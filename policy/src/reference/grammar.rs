//! The image reference grammar, one function per production.
//!
//! Each production of distribution/reference's `regexp.go` is a small
//! hand-written byte-level matcher here, not a regular expression: the parser
//! runs on every image of every admission request inside wasm, and a matcher
//! over bytes needs no regex engine, no compilation and no allocation. The
//! `is_*` predicates never allocate; the `check_*` / `parse_*` functions
//! allocate only to build an error.
//!
//! Character classes are ASCII throughout. Go's `\w` is ASCII
//! (`[A-Za-z0-9_]`); Rust regex's `\w` is Unicode, which is one reason not to
//! transcribe the patterns. Non-ASCII bytes never match any production.
//!
//! These functions are `pub` so that the settings pattern parsers can reuse
//! exactly the grammar that [`Reference::parse`](super::Reference::parse)
//! uses.

use super::{ReferenceError, ascii};

/// Longest repository path (registry excluded), as distribution's
/// `RepositoryNameTotalLengthMax`.
pub const MAX_PATH_LENGTH: usize = 255;

/// Longest tag: `[\w][\w.-]{0,127}`.
pub const MAX_TAG_LENGTH: usize = 128;

/// The name `localhost` is always a registry when it is the first of several
/// `/`-separated components.
pub const LOCALHOST: &str = "localhost";

/// Splits a name (no tag, no digest) into its registry and repository path,
/// with distribution's `splitDockerDomain` rule.
///
/// The first `/`-separated component is a registry when it contains `.` or
/// `:`, is `localhost`, or contains an upper-case ASCII letter (repository
/// paths are lower case, so an upper-case first component can only be a host:
/// `EVILHOST/app` is registry `EVILHOST`). With no `/` there is no registry:
/// `localhost` and `example.com` alone are Docker Hub repositories.
///
/// ```
/// use imagegate_policy::reference::grammar::split_domain;
/// assert_eq!(split_domain("ghcr.io/org/app"), (Some("ghcr.io"), "org/app"));
/// assert_eq!(split_domain("bitnami/redis"), (None, "bitnami/redis"));
/// assert_eq!(split_domain("example.com"), (None, "example.com"));
/// ```
pub fn split_domain(name: &str) -> (Option<&str>, &str) {
    split_domain_at(name, ascii::find(name, b'/'))
}

/// [`split_domain`], given where the first `/` of `name` is.
pub(super) fn split_domain_at(name: &str, first_slash: Option<usize>) -> (Option<&str>, &str) {
    match first_slash.and_then(|at| ascii::split_around(name, at)) {
        Some((first, rest)) if looks_like_domain(first) => (Some(first), rest),
        _ => (None, name),
    }
}

/// Whether a first path component is taken as a registry (see
/// [`split_domain`]).
fn looks_like_domain(first: &str) -> bool {
    first == LOCALHOST
        || first
            .bytes()
            .any(|b| b == b'.' || b == b':' || b.is_ascii_uppercase())
}

/// Splits a registry into host and port, respecting IPv6 brackets.
///
/// `"[::1]:5000"` gives `("[::1]", Some("5000"))`, `"[::1]"` gives
/// `("[::1]", None)`, `"host:"` gives `("host", Some(""))`. The parts are
/// not validated: see [`is_domain`]. A bracketed host whose `]` is not at the
/// end or followed by `:` is returned whole, with no port.
pub fn split_host_port(domain: &str) -> (&str, Option<&str>) {
    if domain.starts_with('[') {
        // The port separator is the ':' right after the closing bracket; the
        // colons inside the brackets belong to the address.
        return match ascii::split_once(domain, b']') {
            Some((inside, rest)) => match rest.strip_prefix(':') {
                Some(port) => (domain.get(..inside.len() + 1).unwrap_or(domain), Some(port)),
                None => (domain, None),
            },
            None => (domain, None),
        };
    }
    match ascii::split_once(domain, b':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    }
}

/// `domainNameComponent = [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
///
/// One DNS label: letters (either case) and digits, with `-` inside only.
/// Underscores are not allowed, so `bad_host.com/x` is not a registry.
pub fn is_domain_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// `ipv6address = \[[a-fA-F0-9:]+\]`
///
/// Only the characters are checked, as distribution does (`[fd00123]`
/// passes). Zone ids (`[fe80::1%eth0]`) are excluded on purpose: they name a
/// local interface and have no meaning in a shared image name.
pub fn is_ipv6_host(s: &str) -> bool {
    match s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        Some(inside) => {
            !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
        }
        None => false,
    }
}

/// `port = [0-9]+`
///
/// Any number of digits, as in distribution: the grammar does not bound the
/// value (a port above 65535 fails when the runtime connects).
pub fn is_port(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `domainAndPort = (domainName | ipv6address) (:port)?`, where
/// `domainName = domainNameComponent (\. domainNameComponent)*`.
pub fn is_domain(s: &str) -> bool {
    domain_problem(s).is_none()
}

/// What is wrong with a registry, without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DomainProblem<'a> {
    EmptyComponent,
    InvalidComponent(&'a str),
    InvalidIpv6,
    InvalidPort(&'a str),
}

fn domain_problem(domain: &str) -> Option<DomainProblem<'_>> {
    let (host, port) = split_host_port(domain);
    if host.starts_with('[') {
        if !is_ipv6_host(host) {
            return Some(DomainProblem::InvalidIpv6);
        }
    } else {
        for component in ascii::split(host, b'.') {
            if component.is_empty() {
                return Some(DomainProblem::EmptyComponent);
            }
            if !is_domain_component(component) {
                return Some(DomainProblem::InvalidComponent(component));
            }
        }
    }
    match port {
        Some(port) if !is_port(port) => Some(DomainProblem::InvalidPort(port)),
        _ => None,
    }
}

/// Checks a registry (`host[:port]`), naming what is wrong.
pub fn check_domain(domain: &str) -> Result<(), ReferenceError> {
    let Some(problem) = domain_problem(domain) else {
        return Ok(());
    };
    let domain_owned = domain.to_owned();
    Err(match problem {
        DomainProblem::EmptyComponent => ReferenceError::EmptyDomainComponent {
            domain: domain_owned,
        },
        DomainProblem::InvalidComponent(component) => ReferenceError::InvalidDomainComponent {
            domain: domain_owned,
            component: component.to_owned(),
        },
        DomainProblem::InvalidIpv6 => ReferenceError::InvalidIpv6Host {
            domain: domain_owned,
        },
        DomainProblem::InvalidPort(port) => ReferenceError::InvalidPort {
            domain: domain_owned,
            port: port.to_owned(),
        },
    })
}

/// `pathComponent = [a-z0-9]+ (separator [a-z0-9]+)*` with
/// `separator = [._] | __ | [-]+`.
///
/// Runs of dashes are allowed (`a-----b`, distribution e60f347; older
/// parsers wrote `[-]*`, which also let `a-_b` through); a separator never
/// starts or ends a component, and `.` never repeats.
pub fn is_path_component(s: &str) -> bool {
    path_component_matches(s.bytes())
}

/// The path component automaton over a byte stream, so that the lower-cased
/// retry can run without allocating a lower-cased copy.
fn path_component_matches(bytes: impl Iterator<Item = u8>) -> bool {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        /// Nothing yet, or right after `.` / `__`: an alphanumeric must come.
        NeedAlnum,
        /// Inside a run of `[a-z0-9]`: the only accepting state.
        Alnum,
        /// After one `_`: a second `_` or an alphanumeric.
        Underscore,
        /// After one or more `-`: more `-` or an alphanumeric.
        Dashes,
    }
    let mut state = State::NeedAlnum;
    for b in bytes {
        let alnum = b.is_ascii_lowercase() || b.is_ascii_digit();
        state = match (state, b) {
            (_, _) if alnum => State::Alnum,
            (State::Alnum, b'.') => State::NeedAlnum,
            (State::Alnum, b'_') => State::Underscore,
            (State::Underscore, b'_') => State::NeedAlnum,
            (State::Alnum | State::Dashes, b'-') => State::Dashes,
            _ => return false,
        };
    }
    state == State::Alnum
}

/// `remoteName = pathComponent (/ pathComponent)*`, and the length limit.
///
/// Checks a repository path (no registry, no tag). When every component
/// would be valid in lower case, the error is
/// [`UppercaseName`](ReferenceError::UppercaseName), as distribution's
/// `Parse` retries the lower-cased input to say "must be lowercase". The
/// length is checked on the path as given; [`Reference::parse`](super::Reference::parse)
/// checks it on the normalized path (with `library/`).
pub fn check_path(path: &str) -> Result<(), ReferenceError> {
    check_path_components(path)?;
    check_path_length(path.len(), || path.to_owned())
}

/// The component part of [`check_path`].
pub(super) fn check_path_components(path: &str) -> Result<(), ReferenceError> {
    if path.is_empty() {
        return Err(ReferenceError::MissingRepository {
            input: path.to_owned(),
        });
    }
    let mut uppercase = false;
    for component in ascii::split(path, b'/') {
        if component.is_empty() {
            return Err(ReferenceError::EmptyPathComponent {
                path: path.to_owned(),
            });
        }
        if is_path_component(component) {
            continue;
        }
        if path_component_matches(component.bytes().map(|b| b.to_ascii_lowercase())) {
            uppercase = true;
            continue;
        }
        return Err(ReferenceError::InvalidPathComponent {
            path: path.to_owned(),
            component: component.to_owned(),
        });
    }
    if uppercase {
        return Err(ReferenceError::UppercaseName {
            name: path.to_owned(),
        });
    }
    Ok(())
}

/// The length part of [`check_path`]; `describe` builds the path for the
/// message only when it is too long.
pub(super) fn check_path_length(
    length: usize,
    describe: impl FnOnce() -> String,
) -> Result<(), ReferenceError> {
    if length > MAX_PATH_LENGTH {
        return Err(ReferenceError::NameTooLong {
            path: describe(),
            length,
        });
    }
    Ok(())
}

/// `tag = [\w][\w.-]{0,127}` with ASCII `\w = [A-Za-z0-9_]`.
pub fn is_tag(s: &str) -> bool {
    tag_problem(s).is_none()
}

/// What is wrong with a tag, without allocating.
enum TagProblem {
    Empty,
    TooLong,
    BadStart,
    BadCharacter,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn tag_problem(s: &str) -> Option<TagProblem> {
    let mut bytes = s.bytes();
    match bytes.next() {
        None => return Some(TagProblem::Empty),
        Some(first) if !is_word_byte(first) => return Some(TagProblem::BadStart),
        Some(_) => {}
    }
    if !bytes.all(|b| is_word_byte(b) || b == b'.' || b == b'-') {
        return Some(TagProblem::BadCharacter);
    }
    if s.len() > MAX_TAG_LENGTH {
        return Some(TagProblem::TooLong);
    }
    None
}

/// Checks a tag (the text after `:`), naming what is wrong.
pub fn check_tag(tag: &str) -> Result<(), ReferenceError> {
    let Some(problem) = tag_problem(tag) else {
        return Ok(());
    };
    let tag_owned = tag.to_owned();
    Err(match problem {
        TagProblem::Empty => ReferenceError::EmptyTag { input: tag_owned },
        TagProblem::TooLong => ReferenceError::TagTooLong {
            length: tag.len(),
            tag: tag_owned,
        },
        TagProblem::BadStart => ReferenceError::InvalidTagStart {
            character: tag.chars().next().unwrap_or_default(),
            tag: tag_owned,
        },
        TagProblem::BadCharacter => ReferenceError::InvalidTagCharacter {
            character: tag
                .chars()
                .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
                .unwrap_or_default(),
            tag: tag_owned,
        },
    })
}

/// `algorithm = [A-Za-z][A-Za-z0-9]* ([-_+.] [A-Za-z][A-Za-z0-9]*)*`
pub fn is_digest_algorithm(s: &str) -> bool {
    s.split(['-', '_', '+', '.']).all(|component| {
        let mut bytes = component.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric())
    })
}

/// How many hex characters a supported digest algorithm has; `None` for
/// every other algorithm (go-digest registers exactly these three; names are
/// case-sensitive, so `SHA256` is unsupported).
pub fn digest_hex_length(algorithm: &str) -> Option<usize> {
    match algorithm {
        "sha256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        _ => None,
    }
}

/// `digest = algorithm : hex`, validated as go-digest does: a supported
/// algorithm, then exactly its number of lower-case hex characters.
///
/// distribution's pattern accepts `[[:xdigit:]]{32,}` and leaves the rest to
/// go-digest, which rejects upper-case hex; so do we.
pub fn parse_digest(s: &str) -> Result<(), ReferenceError> {
    if s.is_empty() {
        return Err(ReferenceError::EmptyDigest {
            input: s.to_owned(),
        });
    }
    let Some((algorithm, hex)) = s.split_once(':') else {
        return Err(ReferenceError::MalformedDigest {
            digest: s.to_owned(),
        });
    };
    if !is_digest_algorithm(algorithm) {
        return Err(ReferenceError::MalformedDigest {
            digest: s.to_owned(),
        });
    }
    let Some(expected) = digest_hex_length(algorithm) else {
        return Err(ReferenceError::UnsupportedDigestAlgorithm {
            digest: s.to_owned(),
            algorithm: algorithm.to_owned(),
        });
    };
    if let Some(character) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(ReferenceError::InvalidDigestHex {
            digest: s.to_owned(),
            expected,
            character,
        });
    }
    if hex.len() != expected {
        return Err(ReferenceError::InvalidDigestLength {
            digest: s.to_owned(),
            expected,
            found: hex.len(),
        });
    }
    Ok(())
}

/// Whether `s` is a digest [`parse_digest`] accepts, without building the
/// error that says why not: `Reference::parse` asks this of every image.
pub fn is_digest(s: &str) -> bool {
    // sha256, sha384 and sha512 digests are 71, 103 and 135 bytes long.
    matches!(s.len(), 71 | 103 | 135)
        && ascii::split_once(s, b':').is_some_and(|(algorithm, hex)| {
            digest_hex_length(algorithm) == Some(hex.len())
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// `identifier = [a-f0-9]{64}`: an image ID, which
/// `ParseNormalizedNamed` refuses to take as a name.
pub fn is_hex_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Splits `name[:tag]` (no digest) at the tag separator: the first `:` after
/// the last `/`. A registry port (`host:5000/app`) comes before a `/`, so it
/// is never taken for a tag; with no `/`, `test.com:5000` is name `test.com`,
/// tag `5000`, as in distribution. The tag is returned as written (it may be
/// empty, or contain further `:`), for [`check_tag`] to judge.
pub fn split_tag(name_and_tag: &str) -> (&str, Option<&str>) {
    split_tag_at(name_and_tag, ascii::rfind(name_and_tag, b'/'))
}

/// [`split_tag`], given where the last `/` of `name_and_tag` is.
pub(super) fn split_tag_at(name_and_tag: &str, last_slash: Option<usize>) -> (&str, Option<&str>) {
    let last_start = last_slash.map_or(0, |slash| slash + 1);
    let last = name_and_tag.get(last_start..).unwrap_or_default();
    match ascii::find(last, b':') {
        Some(colon) => (
            name_and_tag
                .get(..last_start + colon)
                .unwrap_or(name_and_tag),
            last.get(colon + 1..),
        ),
        None => (name_and_tag, None),
    }
}

#[cfg(test)]
mod tests {
    //! Each production alone, as distribution/reference's `regexp_test.go`
    //! does. Rows marked "(dref)" are ported from distribution/reference
    //! (Apache-2.0, Copyright The Docker/CNCF Distribution authors),
    //! `regexp_test.go` at 0965666.

    use super::*;

    #[test]
    fn domain_production() {
        const CASES: &[(&str, bool)] = &[
            // (dref) TestDomainRegexp
            ("test.com", true),
            ("test.com:10304", true),
            ("test.com:http", false),
            ("localhost", true),
            ("localhost:8080", true),
            ("a", true),
            ("a.b", true),
            ("ab.cd.com", true),
            ("a-b.com", true),
            ("-ab.com", false),
            ("ab-.com", false),
            ("ab.c-om", true),
            ("ab.-com", false),
            ("ab.com-", false),
            ("0101.com", true),
            ("001a.com", true),
            ("b.gbc.io:443", true),
            ("b.gbc.io", true),
            ("xn--n3h.com", true),
            ("Asdf.com", true),
            ("192.168.1.1:75050", true),
            ("192.168.1.1:750050", true),
            ("[fd00:1:2::3]:75050", true),
            ("[fd00:1:2::3]75050", false),
            ("[fd00:1:2::3]::75050", false),
            ("[fd00:1:2::3%eth0]:75050", false),
            ("[fd00123123123]:75050", true),
            ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", true),
            ("fd00:1:2::3:75050", false),
            // ours
            ("", false),
            ("docker.io.", false),
            (".docker.io", false),
            ("a..b", false),
            ("host:", false),
            (":5000", false),
            ("[]", false),
            ("[::1", false),
            ("[::1]", true),
            ("[::1]:", false),
            ("[g::1]", false),
            ("bad_host.com", false),
            ("EVILHOST", true),
            ("héllo.com", false),
        ];
        for &(input, valid) in CASES {
            assert_eq!(is_domain(input), valid, "is_domain({input:?})");
            assert_eq!(
                check_domain(input).is_ok(),
                valid,
                "check_domain({input:?})"
            );
        }
    }

    #[test]
    fn domain_errors_name_the_part() {
        assert_eq!(
            check_domain("docker.io."),
            Err(ReferenceError::EmptyDomainComponent {
                domain: "docker.io.".into()
            })
        );
        assert_eq!(
            check_domain("bad_host.com:80"),
            Err(ReferenceError::InvalidDomainComponent {
                domain: "bad_host.com:80".into(),
                component: "bad_host".into()
            })
        );
        assert_eq!(
            check_domain("host:abc"),
            Err(ReferenceError::InvalidPort {
                domain: "host:abc".into(),
                port: "abc".into()
            })
        );
        assert_eq!(
            check_domain("[::1%eth0]:5000"),
            Err(ReferenceError::InvalidIpv6Host {
                domain: "[::1%eth0]:5000".into()
            })
        );
    }

    #[test]
    fn split_domain_rule() {
        const CASES: &[(&str, Option<&str>, &str)] = &[
            ("nginx", None, "nginx"),
            ("test.com", None, "test.com"),
            ("localhost", None, "localhost"),
            ("bitnami/redis", None, "bitnami/redis"),
            ("docker/stevvooe/app", None, "docker/stevvooe/app"),
            ("localhost/foo", Some("localhost"), "foo"),
            ("example:5000/foo", Some("example:5000"), "foo"),
            ("ghcr.io/org/app", Some("ghcr.io"), "org/app"),
            ("[::1]:5000/app", Some("[::1]:5000"), "app"),
            ("EVILHOST/app", Some("EVILHOST"), "app"),
            ("Foo/bar", Some("Foo"), "bar"),
            ("test_com/foo", None, "test_com/foo"),
            ("/x", None, "/x"),
            ("ghcr.io/", Some("ghcr.io"), ""),
        ];
        for &(input, domain, path) in CASES {
            assert_eq!(
                split_domain(input),
                (domain, path),
                "split_domain({input:?})"
            );
        }
    }

    #[test]
    fn split_host_port_respects_brackets() {
        const CASES: &[(&str, &str, Option<&str>)] = &[
            ("[::1]:5000", "[::1]", Some("5000")),
            ("[::1]", "[::1]", None),
            ("[2001:db8::1]", "[2001:db8::1]", None),
            ("localhost:5000", "localhost", Some("5000")),
            ("ghcr.io", "ghcr.io", None),
            ("host:", "host", Some("")),
            ("a:b:c", "a", Some("b:c")),
            ("[::1]x", "[::1]x", None),
            ("[::1", "[::1", None),
            ("[::1]:", "[::1]", Some("")),
        ];
        for &(input, host, port) in CASES {
            assert_eq!(
                split_host_port(input),
                (host, port),
                "split_host_port({input:?})"
            );
        }
    }

    #[test]
    fn path_component_production() {
        const CASES: &[(&str, bool)] = &[
            ("a", true),
            ("nginx", true),
            ("foo_bar", true),
            ("foo__bar", true),
            ("foo___bar", false),
            ("a-b", true),
            ("a-----b", true),
            ("project--id.module--name.ver---sion--name", true),
            ("ubuntu-12.04-base", true),
            ("test.example.com", true),
            ("a.b", true),
            ("a..b", false),
            ("a_.b", false),
            ("a-.b", false),
            ("a._b", false),
            ("a-_b", false),
            ("_a", false),
            ("a_", false),
            ("-a", false),
            ("a-", false),
            (".a", false),
            ("a.", false),
            ("__underscore", false),
            ("____", false),
            ("", false),
            ("Nginx", false),
            ("a^a", false),
            ("ünicode", false),
        ];
        for &(input, valid) in CASES {
            assert_eq!(
                is_path_component(input),
                valid,
                "is_path_component({input:?})"
            );
        }
    }

    #[test]
    fn path_checks() {
        assert_eq!(check_path("org/app"), Ok(()));
        assert_eq!(
            check_path("a//b"),
            Err(ReferenceError::EmptyPathComponent {
                path: "a//b".into()
            })
        );
        assert_eq!(
            check_path("Library/nginx"),
            Err(ReferenceError::UppercaseName {
                name: "Library/nginx".into()
            })
        );
        // Not fixed by lower-casing: the component that stays wrong is named.
        assert_eq!(
            check_path("Foo/b_-c"),
            Err(ReferenceError::InvalidPathComponent {
                path: "Foo/b_-c".into(),
                component: "b_-c".into()
            })
        );
        assert_eq!(
            check_path(""),
            Err(ReferenceError::MissingRepository { input: "".into() })
        );
        let long = "a".repeat(256);
        assert_eq!(
            check_path(&long),
            Err(ReferenceError::NameTooLong {
                path: long.clone(),
                length: 256
            })
        );
        assert_eq!(check_path(&long[..255]), Ok(()));
    }

    #[test]
    fn tag_production() {
        let max = "a".repeat(128);
        let over = "a".repeat(129);
        let cases: &[(&str, bool)] = &[
            ("latest", true),
            ("1.27", true),
            ("Uppercase", true),
            ("_underscore", true),
            ("v1.0-rc.1_build", true),
            ("8080", true),
            ("xn--n3h.com", true),
            (".dot", false),
            ("-dash", false),
            ("a:b", false),
            ("invalid~tag", false),
            ("tag+meta", false),
            ("", false),
            ("ünicode", false),
            (&max, true),
            (&over, false),
        ];
        for &(input, valid) in cases {
            assert_eq!(is_tag(input), valid, "is_tag({input:?})");
            assert_eq!(check_tag(input).is_ok(), valid, "check_tag({input:?})");
        }
        assert_eq!(
            check_tag("-x"),
            Err(ReferenceError::InvalidTagStart {
                tag: "-x".into(),
                character: '-'
            })
        );
        assert_eq!(
            check_tag("a~b"),
            Err(ReferenceError::InvalidTagCharacter {
                tag: "a~b".into(),
                character: '~'
            })
        );
        assert_eq!(
            check_tag(&over),
            Err(ReferenceError::TagTooLong {
                tag: over.clone(),
                length: 129
            })
        );
    }

    #[test]
    fn digest_production() {
        let hex64 = "f".repeat(64);
        let hex96 = "0".repeat(96);
        let hex128 = "9".repeat(128);
        let ok = [
            format!("sha256:{hex64}"),
            format!("sha384:{hex96}"),
            format!("sha512:{hex128}"),
        ];
        for digest in &ok {
            assert_eq!(parse_digest(digest), Ok(()), "{digest}");
        }
        let sha256_short = "sha256:abc";
        assert_eq!(
            parse_digest(sha256_short),
            Err(ReferenceError::InvalidDigestLength {
                digest: sha256_short.into(),
                expected: 64,
                found: 3
            })
        );
        let upper = format!("sha256:{}", "F".repeat(64));
        assert_eq!(
            parse_digest(&upper),
            Err(ReferenceError::InvalidDigestHex {
                digest: upper.clone(),
                expected: 64,
                character: 'F'
            })
        );
        let md5 = format!("md5:{}", "0".repeat(32));
        assert_eq!(
            parse_digest(&md5),
            Err(ReferenceError::UnsupportedDigestAlgorithm {
                digest: md5.clone(),
                algorithm: "md5".into()
            })
        );
        // go-digest names are case-sensitive.
        let shout = format!("SHA256:{hex64}");
        assert!(matches!(
            parse_digest(&shout),
            Err(ReferenceError::UnsupportedDigestAlgorithm { .. })
        ));
        // A sha256 digest with 128 hex characters has the wrong length.
        let long = format!("sha256:{hex128}");
        assert!(matches!(
            parse_digest(&long),
            Err(ReferenceError::InvalidDigestLength {
                expected: 64,
                found: 128,
                ..
            })
        ));
        for malformed in [
            "sha256",
            ":abc",
            "2bad:abc",
            "sha-:abc",
            "sha__256:abc",
            "bad",
        ] {
            assert_eq!(
                parse_digest(malformed),
                Err(ReferenceError::MalformedDigest {
                    digest: malformed.into()
                }),
                "{malformed}"
            );
        }
        assert_eq!(
            parse_digest(""),
            Err(ReferenceError::EmptyDigest { input: "".into() })
        );
    }

    #[test]
    fn is_digest_agrees_with_parse_digest() {
        let hex64 = "a".repeat(64);
        for input in [
            format!("sha256:{hex64}"),
            format!("sha384:{}", "0".repeat(96)),
            format!("sha512:{}", "f".repeat(128)),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{hex64}a"),
            format!("sha384:{hex64}"),
            format!("SHA256:{hex64}"),
            format!("md5:{hex64}"),
            format!("sha256:{}", &hex64[1..]),
            "ghcr.io/org/app:1.0".to_owned(),
            "sha256:".to_owned(),
            ":".to_owned(),
            String::new(),
        ] {
            assert_eq!(is_digest(&input), parse_digest(&input).is_ok(), "{input:?}");
        }
    }

    #[test]
    fn digest_algorithm_production() {
        for (input, valid) in [
            ("sha256", true),
            ("multihash+base58", true),
            ("tarsum.v1+sha256", true),
            ("a-b_c+d.e", true),
            ("", false),
            ("2bad", false),
            ("sha-", false),
            ("-sha", false),
            ("sha--256", false),
            ("sha-2", false),
        ] {
            assert_eq!(
                is_digest_algorithm(input),
                valid,
                "is_digest_algorithm({input:?})"
            );
        }
    }

    #[test]
    fn identifier_production() {
        // (dref) TestIdentifierRegexp
        for (input, valid) in [
            (
                "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821",
                true,
            ),
            (
                "7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C",
                false,
            ),
            (
                "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf",
                false,
            ),
            (
                "sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821",
                false,
            ),
            (
                "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482",
                false,
            ),
        ] {
            assert_eq!(
                is_hex_identifier(input),
                valid,
                "is_hex_identifier({input:?})"
            );
        }
    }

    #[test]
    fn split_tag_takes_first_colon_after_last_slash() {
        const CASES: &[(&str, &str, Option<&str>)] = &[
            ("nginx", "nginx", None),
            ("nginx:1.27", "nginx", Some("1.27")),
            ("nginx:", "nginx", Some("")),
            ("test.com:5000", "test.com", Some("5000")),
            ("host:5000/app", "host:5000/app", None),
            ("host:5000/app:1", "host:5000/app", Some("1")),
            ("[::1]:5000/app:1", "[::1]:5000/app", Some("1")),
            ("a:1:2", "a", Some("1:2")),
            (":tag", "", Some("tag")),
            ("ghcr.io/", "ghcr.io/", None),
        ];
        for &(input, name, tag) in CASES {
            assert_eq!(split_tag(input), (name, tag), "split_tag({input:?})");
        }
    }
}
