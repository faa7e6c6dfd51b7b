//! The image reference parser on arbitrary strings.
//!
//! Parsing never panics; an error always renders. A reference that parses
//! also:
//! * round-trips: its Display re-parses to an equal reference, whose Display
//!   is the same string (normalizing is idempotent);
//! * is made of parts that each pass their own grammar production, and that
//!   put back together give the Display;
//! * is matched by the settings entries written as itself: an image entry
//!   equal to the image, a repository entry of its name, a registry entry of
//!   its registry (two constructors that must agree, as ripgrep's
//!   `fuzz_glob` checks).
#![no_main]

use imagegate_policy::matcher::image::ImagePattern;
use imagegate_policy::matcher::registry::{Aliases, RegistryPattern};
use imagegate_policy::matcher::repository::RepositoryPattern;
use imagegate_policy::reference::{Reference, grammar};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    check(input);
});

fn check(input: &str) {
    let reference = match Reference::parse(input) {
        Ok(r) => r,
        Err(e) => {
            // Every error renders, linear in the input (which it may quote,
            // escaped: at most 10 bytes for one `\u{...}`).
            let message = e.to_string();
            assert!(!message.is_empty());
            assert!(message.len() <= 12 * input.len() + 400, "{message}");
            return;
        }
    };
    let shown = reference.to_string();

    // Round trip and idempotence.
    let again = match Reference::parse(&shown) {
        Ok(r) => r,
        Err(e) => panic!("{input:?} normalizes to {shown:?}, which does not parse: {e}"),
    };
    assert_eq!(again, reference, "{input:?} -> {shown:?}");
    assert_eq!(again.to_string(), shown, "normalizing {input:?} twice");
    assert!(again.names_registry(), "{shown:?} names its registry");
    assert_eq!(again.tag(), reference.tag());
    assert_eq!(again.digest(), reference.digest());

    // The parts, each by its own production, and back together.
    let domain = reference.domain();
    let path = reference.path();
    assert!(grammar::is_domain(domain), "{input:?}: domain {domain:?}");
    assert_eq!(
        grammar::check_path(path),
        Ok(()),
        "{input:?}: path {path:?}"
    );
    let mut rebuilt = format!("{domain}/{path}");
    if let Some(tag) = reference.tag() {
        assert!(grammar::is_tag(tag), "{input:?}: tag {tag:?}");
        rebuilt.push(':');
        rebuilt.push_str(tag);
    }
    if let Some(digest) = reference.digest() {
        assert_eq!(grammar::parse_digest(digest), Ok(()), "{input:?}");
        rebuilt.push('@');
        rebuilt.push_str(digest);
    }
    assert_eq!(rebuilt, shown);
    match reference.port() {
        Some(port) => assert_eq!(format!("{}:{port}", reference.host()), domain),
        None => assert_eq!(reference.host(), domain),
    }
    assert_eq!(
        reference.effective_tag().is_none(),
        reference.tag().is_none() && reference.is_pinned()
    );
    assert!(shown.is_ascii() && !shown.contains(char::is_whitespace));

    // Entries written as the image itself match it.
    let aliases = Aliases::default();
    let names = aliases.names(domain);
    match ImagePattern::parse(input) {
        Ok(p) => assert!(p.matches(&names, &reference), "image entry {input:?}"),
        Err(e) => panic!("{input:?} is an image but not an image entry: {e}"),
    }
    match ImagePattern::parse(&shown) {
        Ok(p) => assert!(p.matches(&names, &reference), "image entry {shown:?}"),
        Err(e) => panic!("{shown:?} is an image but not an image entry: {e}"),
    }
    let name = format!("{domain}/{path}");
    match RepositoryPattern::parse(&name) {
        Ok(p) => assert!(p.matches(&names, path), "repository entry {name:?}"),
        Err(e) => panic!("{name:?} is a repository but not a repository entry: {e}"),
    }
    match RegistryPattern::parse(domain, false) {
        Ok(p) => assert!(p.matches(&names), "registry entry {domain:?}"),
        Err(e) => panic!("{domain:?} is a registry but not a registry entry: {e}"),
    }
}
