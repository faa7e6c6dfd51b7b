//! The order the source decision uses to pick the entry that decides
//! (SPEC 2.4): image entries beat repository entries beat registry entries;
//! within a kind, the more precise entry wins. Equal specificity is a tie,
//! which reject wins.

use crate::matcher::image::Selector;

/// How specific a matching entry is; greater is more specific.
///
/// Field order is the comparison order: kind first, then the kind's own
/// measure (path depth for repositories, selector for images), then exact
/// before wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity {
    kind: u8,
    measure: u16,
    exact: bool,
}

impl Specificity {
    /// A registry entry.
    pub fn registry(exact: bool) -> Specificity {
        Specificity {
            kind: 1,
            measure: 0,
            exact,
        }
    }

    /// A repository entry with `depth` path components.
    pub fn repository(depth: usize, exact: bool) -> Specificity {
        Specificity {
            kind: 2,
            measure: u16::try_from(depth).unwrap_or(u16::MAX),
            exact,
        }
    }

    /// An image entry: digest > exact tag > tag glob > bare repository.
    pub fn image(selector: &Selector) -> Specificity {
        let measure = match selector {
            Selector::AnyTag => 0,
            Selector::TagGlob(_) => 1,
            Selector::Tag(_) => 2,
            Selector::Digest(_) => 3,
        };
        Specificity {
            kind: 3,
            measure,
            exact: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::glob::Glob;

    #[test]
    fn kinds_order_before_measures() {
        assert!(Specificity::image(&Selector::AnyTag) > Specificity::repository(50, true));
        assert!(Specificity::repository(1, false) > Specificity::registry(true));
    }

    #[test]
    fn longer_repository_patterns_are_more_specific() {
        assert!(Specificity::repository(3, false) > Specificity::repository(2, true));
        assert!(Specificity::repository(2, true) > Specificity::repository(2, false));
    }

    #[test]
    fn image_selectors_order() {
        let bare = Specificity::image(&Selector::AnyTag);
        let glob = Specificity::image(&Selector::TagGlob(Glob::new("1.*", false)));
        let tag = Specificity::image(&Selector::Tag("1.2".into()));
        let digest = Specificity::image(&Selector::Digest("sha256:00".into()));
        assert!(bare < glob && glob < tag && tag < digest);
    }

    #[test]
    fn exact_registry_beats_wildcard_registry() {
        assert!(Specificity::registry(true) > Specificity::registry(false));
    }
}
