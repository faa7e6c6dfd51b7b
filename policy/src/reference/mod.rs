//! Image references: parse an image string the way container runtimes do.
//!
//! A [`Reference`] is what a runtime pulls for an image string: distribution's
//! `ParseNormalizedNamed` plus the tag and digest, with Docker Hub's names
//! folded together. The policy never compares image strings by prefix or
//! substring; it parses them here and compares parts.
//!
//! # Grammar
//!
//! From distribution/reference (`regexp.go`, `reference.go`,
//! `normalize.go`), written out with ASCII classes (Go's `\w` is ASCII;
//! Rust regex's is not):
//!
//! ```text
//! reference           := name [ ":" tag ] [ "@" digest ]
//! name                := [ domain "/" ] path
//! domain              := host [ ":" port ]
//! host                := domain-name | "[" ipv6 "]"
//! domain-name         := domain-component ( "." domain-component )*
//! domain-component    := [a-zA-Z0-9] | [a-zA-Z0-9] [a-zA-Z0-9-]* [a-zA-Z0-9]
//! ipv6                := [a-fA-F0-9:]+                     (no zone ids: no "%eth0")
//! port                := [0-9]+
//! path                := path-component ( "/" path-component )*   (at most 255 chars,
//!                                                                  normalized, no domain)
//! path-component      := alphanumeric ( separator alphanumeric )*
//! alphanumeric        := [a-z0-9]+
//! separator           := "." | "_" | "__" | "-"+
//! tag                 := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest              := algorithm ":" hex
//! algorithm           := algorithm-component ( [-_+.] algorithm-component )*
//! algorithm-component := [A-Za-z] [A-Za-z0-9]*
//! hex                 := sha256: [a-f0-9]{64} | sha384: [a-f0-9]{96} | sha512: [a-f0-9]{128}
//! ```
//!
//! The first `/`-separated component is the domain only when it contains `.`
//! or `:`, is `localhost`, or has an upper-case letter; otherwise the whole
//! name is a Docker Hub path ([`grammar::split_domain`]). With no `/` there is
//! no domain at all: `test.com:tag` is `docker.io/library/test.com`, tag
//! `tag`. A bare 64-hex string is an image ID, not a name.
//!
//! # Normalization
//!
//! No domain means [`DOCKER_HUB`]; `index.docker.io` and
//! `registry-1.docker.io` (any letter case) mean [`DOCKER_HUB`]; a
//! one-component Docker Hub path gets [`OFFICIAL_PREFIX`]. See [`normalize`].
//!
//! # Layout
//!
//! [`grammar`] has one function per production (reused by the settings
//! pattern parsers), [`normalize`] the Docker Hub rules, [`error`] the
//! [`ReferenceError`] variants; this file assembles them into
//! [`Reference::parse`].

mod ascii;
pub mod error;
pub mod grammar;
pub mod normalize;

#[cfg(test)]
mod tests;

use std::fmt;
use std::hash::{Hash, Hasher};

pub use error::ReferenceError;

/// The registry a name without a registry means, and Docker Hub's
/// normalized name.
pub const DOCKER_HUB: &str = "docker.io";

/// The namespace of Docker Hub's official images: `nginx` is
/// `docker.io/library/nginx`.
pub const OFFICIAL_PREFIX: &str = "library/";

/// The tag a runtime pulls when an image has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// A parsed, normalized image reference.
///
/// Built only by [`Reference::parse`]. Holds the normalized form
/// `domain/path[:tag][@digest]` in one string plus the offsets of its parts,
/// so parsing allocates once.
///
/// Equality and hashing compare the normalized image (domain, path, tag,
/// digest); [`names_registry`](Reference::names_registry) records how the
/// image was written and does not take part: `nginx` and
/// `docker.io/library/nginx` are equal, as a runtime pulls the same thing for
/// both, and `Reference::parse(&r.to_string()) == Ok(r)` for every `r`.
#[derive(Clone)]
pub struct Reference {
    /// `domain/path[:tag][@digest]`, normalized.
    repr: String,
    /// End of the host in `repr` (start of `:port` if any).
    host_end: usize,
    /// End of the domain in `repr`; the path starts after the `/` here.
    domain_end: usize,
    /// End of the path in `repr`.
    path_end: usize,
    /// End of the tag in `repr`; equal to `path_end` when there is no tag.
    tag_end: usize,
    /// Whether `repr` ends in `@digest` (starting after `tag_end`).
    has_digest: bool,
    /// Whether the input named a registry.
    names_registry: bool,
}

impl Reference {
    /// Parse and normalize an image string as container runtimes do
    /// (distribution's `ParseNormalizedNamed`, keeping tag and digest).
    ///
    /// Never panics, on any input. The first problem found, left to right,
    /// is reported: characters (whitespace, non-ASCII, `%`), registry,
    /// repository path, path length, tag, digest.
    ///
    /// ```
    /// use imagegate_policy::reference::Reference;
    /// let r = Reference::parse("registry-1.docker.io/nginx:1.27").unwrap();
    /// assert_eq!(r.to_string(), "docker.io/library/nginx:1.27");
    /// assert!(Reference::parse("Nginx").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let marks = ascii::Landmarks::of(input);
        if !marks.printable {
            check_characters(input)?;
        }
        if grammar::is_hex_identifier(input) {
            return Err(ReferenceError::HexIdentifier {
                input: input.to_owned(),
            });
        }
        // Where we differ from distribution on purpose: `sha256:<hex>` is a
        // valid name there (docker.io/library/sha256, tag <hex>), but CRI
        // runtimes resolve it as a local image ID (containerd
        // `LocalResolve`), so no registry rule could apply to what runs.
        if grammar::is_digest(input) {
            return Err(ReferenceError::ImageId {
                input: input.to_owned(),
            });
        }

        // The digest is everything after the first '@' (no other part may
        // contain '@'); the tag is after the first ':' of the last
        // '/'-separated component; the rest is the name.
        let (name_and_tag, digest) = match marks.at.and_then(|at| ascii::split_around(input, at)) {
            Some((name_and_tag, digest)) => (name_and_tag, Some(digest)),
            None => (input, None),
        };
        let (name, tag) = grammar::split_tag_at(name_and_tag, marks.last_slash);
        // The first '/' is before the last one, so inside `name`.
        let (written_domain, written_path) = grammar::split_domain_at(name, marks.first_slash);

        check_percent(input, marks.percent)?;
        if written_domain.is_none() && input.starts_with('[') && marks.first_slash.is_none() {
            // `[::1]:5000` alone: a registry with nothing after it. Without a
            // '/', distribution reads it as a path `[` with tag `:1]:5000`;
            // saying that would not help anyone.
            return Err(ReferenceError::MissingRepository {
                input: input.to_owned(),
            });
        }
        if let Some(domain) = written_domain {
            grammar::check_domain(domain)?;
        }
        if written_path.is_empty() {
            return Err(ReferenceError::MissingRepository {
                input: input.to_owned(),
            });
        }
        grammar::check_path_components(written_path)?;

        let domain = normalize::normalize_domain(written_domain);
        let prefix = normalize::official_prefix(domain, written_path);
        // distribution (since v0.6.0) limits the normalized path, domain
        // excluded: `library/` counts, the registry does not.
        grammar::check_path_length(prefix.len() + written_path.len(), || {
            format!("{prefix}{written_path}")
        })?;

        if let Some(tag) = tag {
            if tag.is_empty() {
                return Err(ReferenceError::EmptyTag {
                    input: input.to_owned(),
                });
            }
            grammar::check_tag(tag)?;
        }
        if let Some(digest) = digest {
            if digest.is_empty() {
                return Err(ReferenceError::EmptyDigest {
                    input: input.to_owned(),
                });
            }
            grammar::parse_digest(digest)?;
        }

        Ok(Self::assemble(
            domain,
            prefix,
            written_path,
            tag,
            digest,
            written_domain.is_some(),
        ))
    }

    /// Builds the normalized string and records where each part ends.
    fn assemble(
        domain: &str,
        prefix: &str,
        path: &str,
        tag: Option<&str>,
        digest: Option<&str>,
        names_registry: bool,
    ) -> Reference {
        let tag_len = tag.map_or(0, |t| t.len() + 1);
        let digest_len = digest.map_or(0, |d| d.len() + 1);
        let mut repr = String::with_capacity(
            domain.len() + 1 + prefix.len() + path.len() + tag_len + digest_len,
        );
        repr.push_str(domain);
        let domain_end = repr.len();
        let host_end = grammar::split_host_port(domain).0.len();
        repr.push('/');
        repr.push_str(prefix);
        repr.push_str(path);
        let path_end = repr.len();
        if let Some(tag) = tag {
            repr.push(':');
            repr.push_str(tag);
        }
        let tag_end = repr.len();
        if let Some(digest) = digest {
            repr.push('@');
            repr.push_str(digest);
        }
        Reference {
            repr,
            host_end,
            domain_end,
            path_end,
            tag_end,
            has_digest: digest.is_some(),
            names_registry,
        }
    }

    /// Normalized registry: `"docker.io"` for Docker Hub (also when written
    /// `index.docker.io` / `registry-1.docker.io` in any letter case);
    /// otherwise exactly as written (case kept, e.g. `"EVILHOST"`,
    /// `"[::1]:5000"`, `"localhost:5000"`).
    pub fn domain(&self) -> &str {
        self.repr.get(..self.domain_end).unwrap_or_default()
    }

    /// The domain without its port; an IPv6 host keeps its brackets
    /// (`"[::1]"`).
    pub fn host(&self) -> &str {
        self.repr.get(..self.host_end).unwrap_or_default()
    }

    /// The port digits if written.
    pub fn port(&self) -> Option<&str> {
        if self.host_end < self.domain_end {
            self.repr.get(self.host_end + 1..self.domain_end)
        } else {
            None
        }
    }

    /// Repository path without the domain, normalized (`"library/nginx"`
    /// for Docker Hub one-component names).
    pub fn path(&self) -> &str {
        self.repr
            .get(self.domain_end + 1..self.path_end)
            .unwrap_or_default()
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        if self.tag_end > self.path_end {
            self.repr.get(self.path_end + 1..self.tag_end)
        } else {
            None
        }
    }

    /// The digest as written (`"sha256:<hex>"`), if any.
    pub fn digest(&self) -> Option<&str> {
        if self.has_digest {
            self.repr.get(self.tag_end + 1..)
        } else {
            None
        }
    }

    /// True when the input named a registry (its first component was a
    /// domain), including Docker Hub under any of its names.
    pub fn names_registry(&self) -> bool {
        self.names_registry
    }

    /// The written tag, or `"latest"` when there is neither tag nor digest;
    /// `None` for digest-only images (a runtime pulls the digest, not
    /// `latest`).
    pub fn effective_tag(&self) -> Option<&str> {
        match (self.tag(), self.has_digest) {
            (Some(tag), _) => Some(tag),
            (None, true) => None,
            (None, false) => Some(DEFAULT_TAG),
        }
    }

    /// True when the reference has a digest (the runtime ignores the tag
    /// then).
    pub fn is_pinned(&self) -> bool {
        self.has_digest
    }
}

impl fmt::Display for Reference {
    /// `domain/path[:tag][@digest]`, normalized; no tag is added.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reference")
            .field("domain", &self.domain())
            .field("path", &self.path())
            .field("tag", &self.tag())
            .field("digest", &self.digest())
            .field("names_registry", &self.names_registry)
            .finish()
    }
}

// The offsets are a function of the normalized string (it parses one way
// only), so comparing the string compares every part.
impl PartialEq for Reference {
    fn eq(&self, other: &Self) -> bool {
        self.repr == other.repr
    }
}

impl Eq for Reference {}

impl Hash for Reference {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.repr.hash(state);
    }
}

/// Rejects, by name, the characters no part of a reference may contain:
/// surrounding or inner whitespace and non-ASCII characters (Unicode
/// look-alikes such as Cyrillic `а` must not pass for `a`).
fn check_characters(input: &str) -> Result<(), ReferenceError> {
    let (Some(first), Some(last)) = (input.chars().next(), input.chars().next_back()) else {
        return Err(ReferenceError::Empty);
    };
    if first.is_whitespace() || last.is_whitespace() {
        return Err(ReferenceError::SurroundingWhitespace {
            input: input.to_owned(),
        });
    }
    for (position, character) in input.char_indices() {
        if character.is_whitespace() {
            return Err(ReferenceError::InnerWhitespace {
                input: input.to_owned(),
                position,
            });
        }
        if !character.is_ascii() {
            return Err(ReferenceError::NonAscii {
                input: input.to_owned(),
                character,
                position,
            });
        }
    }
    Ok(())
}

/// Rejects `%` (percent-encoding such as `%2e%2e` is not part of the grammar
/// and no runtime decodes it), except inside a leading `[...]`, where it
/// starts an IPv6 zone id and [`grammar::check_domain`] says so.
fn check_percent(input: &str, percent: Option<usize>) -> Result<(), ReferenceError> {
    let Some(position) = percent else {
        return Ok(());
    };
    let in_ipv6_host =
        input.starts_with('[') && position < ascii::find(input, b']').unwrap_or(input.len());
    if in_ipv6_host {
        return Ok(());
    }
    Err(ReferenceError::PercentEncoded {
        input: input.to_owned(),
        position,
    })
}
