//! [`ReferenceError`]: every way an image string can fail to be a reference.
//!
//! One variant per way to be wrong, so that callers (and tests) match on the
//! variant instead of on message text. Each message quotes the offending input
//! or part with Rust's `{:?}` (so control characters show escaped) and says
//! what the grammar wants instead. Variants mirror distribution/reference's
//! named errors (`ErrNameEmpty`, `ErrNameContainsUppercase`, `ErrNameTooLong`,
//! go-digest's `ErrDigestUnsupported` / `ErrDigestInvalidLength`) and split
//! its catch-all `ErrReferenceInvalidFormat` into the part that is wrong.

use super::grammar::{MAX_PATH_LENGTH, MAX_TAG_LENGTH};

/// Why an image string is not a valid image reference.
///
/// Fields hold the part of the input the message is about, as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The image string is empty (distribution's `ErrNameEmpty`).
    #[error("image reference is empty")]
    Empty,

    /// The image string starts or ends with whitespace.
    #[error("image reference {input:?} has leading or trailing whitespace")]
    SurroundingWhitespace {
        /// The image string as written.
        input: String,
    },

    /// The image string has whitespace inside it.
    #[error("image reference {input:?} contains whitespace at byte {position}")]
    InnerWhitespace {
        /// The image string as written.
        input: String,
        /// Byte offset of the first whitespace character.
        position: usize,
    },

    /// The image string has a character outside ASCII, for example a Unicode
    /// look-alike of a Latin letter (Cyrillic `а` for `a`).
    #[error(
        "image reference {input:?} contains non-ASCII character {character:?} (U+{code:04X}) at byte {position}; image references are ASCII only",
        code = u32::from(*.character)
    )]
    NonAscii {
        /// The image string as written.
        input: String,
        /// The first non-ASCII character.
        character: char,
        /// Its byte offset.
        position: usize,
    },

    /// The image string has a `%`: percent-encoding (`%2e%2e`) is not part of
    /// the grammar, and no runtime decodes it.
    #[error(
        "image reference {input:?} contains '%' at byte {position}; percent-encoding is not allowed in image references"
    )]
    PercentEncoded {
        /// The image string as written.
        input: String,
        /// Byte offset of the first `%`.
        position: usize,
    },

    /// The whole string is 64 lower-case hex characters: an image ID, not a
    /// name (distribution: "cannot specify 64-byte hexadecimal strings").
    #[error(
        "image reference {input:?} is a 64-character hexadecimal identifier, not a repository name; write it as a digest, e.g. name@sha256:<hex>"
    )]
    HexIdentifier {
        /// The image string as written.
        input: String,
    },

    /// The whole string is a digest (`sha256:<64 hex>`): distribution reads
    /// it as the Docker Hub image `library/sha256` with a hex tag, but
    /// container runtimes (containerd's CRI, CRI-O) take it as the ID of an
    /// image already on the node and run that, from no registry at all.
    #[error(
        "image reference {input:?} is a bare digest, which container runtimes take as the ID of an image already on the node, from no registry; write the repository too, e.g. name@{input}"
    )]
    ImageId {
        /// The image string as written.
        input: String,
    },

    /// Nothing is left for the repository path (`:tag`, `@sha256:…`,
    /// `ghcr.io/`).
    #[error("image reference {input:?} has no repository name")]
    MissingRepository {
        /// The image string (or path) as written.
        input: String,
    },

    /// The registry has an empty dot-separated component (`docker.io.`,
    /// `a..b`, `.io`, or nothing before the port).
    #[error("registry {domain:?} has an empty component (leading, trailing or doubled '.')")]
    EmptyDomainComponent {
        /// The registry as written, with its port.
        domain: String,
    },

    /// A dot-separated registry component is not
    /// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
    #[error(
        "registry {domain:?} has invalid component {component:?}: components are ASCII letters and digits, with '-' only inside"
    )]
    InvalidDomainComponent {
        /// The registry as written, with its port.
        domain: String,
        /// The offending component.
        component: String,
    },

    /// A bracketed host is not `[` hex digits and `:` `]` (zone ids such as
    /// `%eth0` are not allowed).
    #[error(
        "registry {domain:?} is not a valid bracketed IPv6 host: only hex digits and ':' may appear inside [...], and zone ids are not allowed"
    )]
    InvalidIpv6Host {
        /// The registry as written, with its port.
        domain: String,
    },

    /// The text after the registry's `:` is not one or more ASCII digits.
    #[error("registry {domain:?} has invalid port {port:?}: a port is one or more ASCII digits")]
    InvalidPort {
        /// The registry as written, with its port.
        domain: String,
        /// The text after `:`.
        port: String,
    },

    /// The repository path would be valid in lower case (distribution's
    /// `ErrNameContainsUppercase`).
    #[error("repository name {name:?} must be lowercase")]
    UppercaseName {
        /// The repository path as written (without registry).
        name: String,
    },

    /// The repository path has an empty `/`-separated component (`a//b`,
    /// `a/`, `/a`).
    #[error("repository path {path:?} has an empty component (leading, trailing or doubled '/')")]
    EmptyPathComponent {
        /// The repository path as written (without registry).
        path: String,
    },

    /// A `/`-separated path component is not lower-case alphanumerics
    /// joined by `.`, `_`, `__` or runs of `-`.
    #[error(
        "repository path {path:?} has invalid component {component:?}: components are lowercase letters and digits, separated by '.', '_', '__' or runs of '-'"
    )]
    InvalidPathComponent {
        /// The repository path as written (without registry).
        path: String,
        /// The offending component.
        component: String,
    },

    /// The normalized repository path (registry excluded, `library/`
    /// included) is longer than 255 characters (distribution's
    /// `ErrNameTooLong`).
    #[error(
        "repository path {path:?} is {length} characters long; at most {MAX_PATH_LENGTH} are allowed"
    )]
    NameTooLong {
        /// The normalized repository path.
        path: String,
        /// Its length in bytes.
        length: usize,
    },

    /// A `:` is followed by nothing (`nginx:`).
    #[error("image reference {input:?} has an empty tag after ':'")]
    EmptyTag {
        /// The image string as written.
        input: String,
    },

    /// The tag is longer than 128 characters.
    #[error("tag {tag:?} is {length} characters long; at most {MAX_TAG_LENGTH} are allowed")]
    TagTooLong {
        /// The tag as written.
        tag: String,
        /// Its length in bytes.
        length: usize,
    },

    /// The tag starts with `.` or `-` (or another character that is not
    /// ASCII `\w`).
    #[error("tag {tag:?} must start with an ASCII letter, digit or '_', not {character:?}")]
    InvalidTagStart {
        /// The tag as written.
        tag: String,
        /// Its first character.
        character: char,
    },

    /// The tag contains a character outside `[A-Za-z0-9_.-]`.
    #[error(
        "tag {tag:?} contains {character:?}; tags may contain only ASCII letters, digits, '_', '.' and '-'"
    )]
    InvalidTagCharacter {
        /// The tag as written.
        tag: String,
        /// The first character that is not allowed.
        character: char,
    },

    /// An `@` is followed by nothing (`nginx@`).
    #[error("image reference {input:?} has an empty digest after '@'")]
    EmptyDigest {
        /// The image string as written.
        input: String,
    },

    /// The digest is not `algorithm:hex`, or its algorithm is not
    /// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`.
    #[error("digest {digest:?} is not of the form algorithm:hex, e.g. sha256:<64 hex>")]
    MalformedDigest {
        /// The digest as written.
        digest: String,
    },

    /// The digest algorithm is well formed but not one of sha256, sha384,
    /// sha512 (go-digest's `ErrDigestUnsupported`).
    #[error(
        "digest {digest:?} uses unsupported digest algorithm {algorithm:?}; supported: sha256, sha384, sha512"
    )]
    UnsupportedDigestAlgorithm {
        /// The digest as written.
        digest: String,
        /// The algorithm as written.
        algorithm: String,
    },

    /// The digest's hex part contains a character that is not lower-case
    /// hex (upper-case hex included, as in go-digest).
    #[error("digest {digest:?} must have {expected} lowercase hex characters, found {character:?}")]
    InvalidDigestHex {
        /// The digest as written.
        digest: String,
        /// How many hex characters the algorithm needs.
        expected: usize,
        /// The first character that is not lower-case hex.
        character: char,
    },

    /// The digest's hex part has the wrong length for its algorithm
    /// (go-digest's `ErrDigestInvalidLength`).
    #[error("digest {digest:?} must have {expected} lowercase hex characters, found {found}")]
    InvalidDigestLength {
        /// The digest as written.
        digest: String,
        /// How many hex characters the algorithm needs.
        expected: usize,
        /// How many there are.
        found: usize,
    },
}
