//! Where images sit in Kubernetes objects (SPEC 3), as data: one table from
//! kind to the location of its pod spec, and one walk over the object that
//! yields every image field of that pod spec.
//!
//! The walk reads the object once, descending only into the keys on the way
//! to the pod spec and into the container and volume lists; strings are
//! borrowed from the request. Field paths are rendered only when a message
//! needs one.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess};
use serde_json::value::RawValue;

use crate::json::{Key, Shape, ShapeError, Step, Walk};

/// Where the pod spec sits in one kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodSpecLocation {
    /// The keys leading to the pod spec.
    pub keys: &'static [&'static str],
    /// The same, as the prefix of field paths (`spec.template.spec`).
    pub prefix: &'static str,
}

const fn at(keys: &'static [&'static str], prefix: &'static str) -> PodSpecLocation {
    PodSpecLocation { keys, prefix }
}

const TEMPLATE: PodSpecLocation = at(&["spec", "template", "spec"], "spec.template.spec");

/// The kinds whose pod specs are checked.
const POD_SPEC_LOCATIONS: &[(&str, PodSpecLocation)] = &[
    ("Pod", at(&["spec"], "spec")),
    ("Deployment", TEMPLATE),
    ("ReplicaSet", TEMPLATE),
    ("StatefulSet", TEMPLATE),
    ("DaemonSet", TEMPLATE),
    ("ReplicationController", TEMPLATE),
    ("Job", TEMPLATE),
    (
        "CronJob",
        at(
            &["spec", "jobTemplate", "spec", "template", "spec"],
            "spec.jobTemplate.spec.template.spec",
        ),
    ),
    ("PodTemplate", at(&["template", "spec"], "template.spec")),
];

/// The kinds whose pod specs are checked, as `kind` names them.
pub fn checked_kinds() -> impl Iterator<Item = &'static str> {
    POD_SPEC_LOCATIONS.iter().map(|(kind, _)| *kind)
}

/// Where the pod spec of `kind` is, or `None` for kinds the policy does not
/// check.
pub fn pod_spec_location(kind: &str) -> Option<PodSpecLocation> {
    POD_SPEC_LOCATIONS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, location)| *location)
}

/// What kind of field an image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteKind {
    /// `containers[*]`
    Container,
    /// `initContainers[*]`
    InitContainer,
    /// `ephemeralContainers[*]`
    EphemeralContainer,
    /// `volumes[*].image`
    ImageVolume,
}

impl SiteKind {
    /// How a message names the field's owner.
    pub fn noun(self) -> &'static str {
        match self {
            SiteKind::Container => "container",
            SiteKind::InitContainer => "init container",
            SiteKind::EphemeralContainer => "ephemeral container",
            SiteKind::ImageVolume => "image volume",
        }
    }

    /// The pod spec key of the list.
    pub fn list_key(self) -> &'static str {
        match self {
            SiteKind::Container => "containers",
            SiteKind::InitContainer => "initContainers",
            SiteKind::EphemeralContainer => "ephemeralContainers",
            SiteKind::ImageVolume => "volumes",
        }
    }

    /// The key of the image inside a list item.
    fn image_key(self) -> &'static str {
        match self {
            SiteKind::ImageVolume => "image.reference",
            _ => "image",
        }
    }
}

/// One image field of a pod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite<'a> {
    /// Which list it came from.
    pub kind: SiteKind,
    /// Its index in that list.
    pub index: usize,
    /// The container's (or volume's) name, when written.
    pub name: Option<Cow<'a, str>>,
    /// The image as written; `None` when the field is missing or null.
    pub image: Option<Cow<'a, str>>,
    /// `imagePullPolicy` (or the image volume's `pullPolicy`) as written.
    pub pull_policy: Option<Cow<'a, str>>,
}

impl ImageSite<'_> {
    /// Field path of the image, e.g. `spec.template.spec.containers[0].image`.
    pub fn path(&self, location: &PodSpecLocation) -> String {
        format!(
            "{}.{}[{}].{}",
            location.prefix,
            self.kind.list_key(),
            self.index,
            self.kind.image_key()
        )
    }

    /// Field path of the pull policy, e.g. `spec.containers[0].imagePullPolicy`
    /// (`volumes[i].image.pullPolicy` for image volumes).
    pub fn pull_policy_path(&self, location: &PodSpecLocation) -> String {
        let field = match self.kind {
            SiteKind::ImageVolume => "image.pullPolicy",
            _ => "imagePullPolicy",
        };
        format!(
            "{}.{}[{}].{field}",
            location.prefix,
            self.kind.list_key(),
            self.index
        )
    }

    /// JSON pointer (RFC 6901) of a container's `imagePullPolicy`.
    pub fn pull_policy_pointer(&self, location: &PodSpecLocation) -> String {
        format!("{}/imagePullPolicy", self.item_pointer(location))
    }

    /// JSON pointer of the image: `.../containers/0/image`, or
    /// `.../volumes/0/image/reference` for an image volume.
    pub fn image_pointer(&self, location: &PodSpecLocation) -> String {
        let field = match self.kind {
            SiteKind::ImageVolume => "image/reference",
            _ => "image",
        };
        format!("{}/{field}", self.item_pointer(location))
    }

    fn item_pointer(&self, location: &PodSpecLocation) -> String {
        let mut pointer = String::new();
        for key in location.keys {
            pointer.push('/');
            pointer.push_str(key);
        }
        format!("{pointer}/{}/{}", self.kind.list_key(), self.index)
    }

    /// `container "app"`, or `container` when it has no name.
    pub fn owner(&self) -> String {
        match &self.name {
            Some(name) => format!(
                "{} {}",
                self.kind.noun(),
                serde_json::Value::String(name.to_string())
            ),
            None => self.kind.noun().to_owned(),
        }
    }
}

/// Every image field of the object's pod spec, in order by list (containers,
/// init containers, ephemeral containers, volumes). An object without a pod
/// spec where one would be (an optional template) has none; a value of the
/// wrong type on the way is an error with its field path.
pub fn image_sites<'a>(
    object: &'a RawValue,
    location: &PodSpecLocation,
) -> Result<Vec<ImageSite<'a>>, ShapeError> {
    let walk = Walk::default();
    let sites = walk.run(
        object,
        ObjectSeed {
            walk: &walk,
            location,
        },
    )?;
    Ok(sites.unwrap_or_default())
}

/// Walks an object in place, inside a larger document: the image fields of
/// its pod spec, or `None` when the object is `null`.
pub struct ObjectSeed<'w> {
    /// Where shape errors are recorded.
    pub walk: &'w Walk,
    /// Where the pod spec is.
    pub location: &'w PodSpecLocation,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Option<Vec<ImageSite<'de>>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let mut sites = Vec::new();
        let cx = Cx {
            walk: self.walk,
            location: self.location,
        };
        let present = Step(Locate {
            cx,
            depth: 0,
            sites: &mut sites,
        })
        .deserialize(deserializer)?;
        Ok(present.then_some(sites))
    }
}

/// What every step shares.
#[derive(Clone, Copy)]
struct Cx<'w> {
    walk: &'w Walk,
    location: &'w PodSpecLocation,
}

impl Cx<'_> {
    /// `spec.template` for depth 2 of a Deployment (empty at depth 0).
    fn location_path(&self, depth: usize) -> String {
        self.location.keys[..depth.min(self.location.keys.len())].join(".")
    }

    fn list_path(&self, kind: SiteKind) -> String {
        format!("{}.{}", self.location.prefix, kind.list_key())
    }

    fn item_path(&self, kind: SiteKind, index: usize) -> String {
        format!("{}[{index}]", self.list_path(kind))
    }
}

/// Walks the keys leading to the pod spec (`location.keys[depth..]`).
struct Locate<'w, 's, 'de> {
    cx: Cx<'w>,
    depth: usize,
    sites: &'s mut Vec<ImageSite<'de>>,
}

impl<'de> Shape<'de> for Locate<'_, '_, 'de> {
    /// Whether the value was an object (not `null`).
    type Value = bool;

    fn walk(&self) -> &Walk {
        self.cx.walk
    }
    fn path(&self) -> String {
        self.cx.location_path(self.depth)
    }
    fn expected(&self) -> &'static str {
        "an object"
    }
    fn null(self) -> bool {
        false
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Some(wanted) = self.cx.location.keys.get(self.depth) else {
            return Ok(true);
        };
        let mut seen = false;
        while let Some(key) = map.next_key_seed(Key)? {
            if key != *wanted {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if seen {
                return Err(self.duplicate(&key));
            }
            seen = true;
            if self.depth + 1 == self.cx.location.keys.len() {
                map.next_value_seed(Step(PodSpec {
                    cx: self.cx,
                    sites: self.sites,
                }))?;
            } else {
                map.next_value_seed(Step(Locate {
                    cx: self.cx,
                    depth: self.depth + 1,
                    sites: self.sites,
                }))?;
            }
        }
        Ok(true)
    }
}

/// The pod spec: its container lists and volumes.
struct PodSpec<'w, 's, 'de> {
    cx: Cx<'w>,
    sites: &'s mut Vec<ImageSite<'de>>,
}

const LISTS: [SiteKind; 4] = [
    SiteKind::Container,
    SiteKind::InitContainer,
    SiteKind::EphemeralContainer,
    SiteKind::ImageVolume,
];

impl<'de> Shape<'de> for PodSpec<'_, '_, 'de> {
    type Value = ();

    fn walk(&self) -> &Walk {
        self.cx.walk
    }
    fn path(&self) -> String {
        self.cx.location.prefix.to_owned()
    }
    fn expected(&self) -> &'static str {
        "an object"
    }
    fn null(self) {}

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Collected per list, then appended in a fixed order, so sites do not
        // depend on the order keys are written in.
        let mut lists: [Option<Vec<ImageSite<'de>>>; 4] = Default::default();
        while let Some(key) = map.next_key_seed(Key)? {
            let Some(i) = LISTS.iter().position(|k| k.list_key() == key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if lists[i].is_some() {
                return Err(self.duplicate(&key));
            }
            lists[i] = Some(map.next_value_seed(Step(List {
                cx: self.cx,
                kind: LISTS[i],
            }))?);
        }
        for list in lists.into_iter().flatten() {
            self.sites.extend(list);
        }
        Ok(())
    }
}

/// A list of containers or volumes.
struct List<'w> {
    cx: Cx<'w>,
    kind: SiteKind,
}

impl<'de> Shape<'de> for List<'_> {
    type Value = Vec<ImageSite<'de>>;

    fn walk(&self) -> &Walk {
        self.cx.walk
    }
    fn path(&self) -> String {
        self.cx.list_path(self.kind)
    }
    fn expected(&self) -> &'static str {
        "a list"
    }
    fn null(self) -> Self::Value {
        Vec::new()
    }

    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        let mut index = 0;
        while let Some(site) = seq.next_element_seed(Step(Item {
            cx: self.cx,
            kind: self.kind,
            index,
        }))? {
            items.extend(site);
            index += 1;
        }
        Ok(items)
    }
}

/// One container, or one volume (which yields a site only when it is an
/// image volume; `rbd.image` is not a container image).
struct Item<'w> {
    cx: Cx<'w>,
    kind: SiteKind,
    index: usize,
}

impl<'de> Shape<'de> for Item<'_> {
    type Value = Option<ImageSite<'de>>;

    fn walk(&self) -> &Walk {
        self.cx.walk
    }
    fn path(&self) -> String {
        self.cx.item_path(self.kind, self.index)
    }
    fn expected(&self) -> &'static str {
        "an object"
    }
    fn null(self) -> Self::Value {
        None
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let keys: &[&'static str] = match self.kind {
            SiteKind::ImageVolume => &["name", "image"],
            _ => &["name", "image", "imagePullPolicy"],
        };
        let mut values: [Option<Option<Cow<'de, str>>>; 3] = [None, None, None];
        let mut volume_image: Option<Option<VolumeFields<'de>>> = None;
        while let Some(key) = map.next_key_seed(Key)? {
            let Some(i) = keys.iter().position(|k| *k == key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if self.kind == SiteKind::ImageVolume && i == 1 {
                if volume_image.is_some() {
                    return Err(self.duplicate(&key));
                }
                volume_image = Some(map.next_value_seed(Step(VolumeImage {
                    cx: self.cx,
                    index: self.index,
                }))?);
                continue;
            }
            if values[i].is_some() {
                return Err(self.duplicate(&key));
            }
            values[i] = Some(map.next_value_seed(Step(Text {
                cx: self.cx,
                parent: (self.kind, self.index),
                key: keys[i],
            }))?);
        }
        let [name, image, pull_policy] = values.map(Option::flatten);
        let (image, pull_policy) = match self.kind {
            SiteKind::ImageVolume => match volume_image.flatten() {
                Some(fields) => fields,
                None => return Ok(None),
            },
            _ => (image, pull_policy),
        };
        Ok(Some(ImageSite {
            kind: self.kind,
            index: self.index,
            name,
            image,
            pull_policy,
        }))
    }
}

/// An image volume's `reference` and `pullPolicy`.
type VolumeFields<'a> = (Option<Cow<'a, str>>, Option<Cow<'a, str>>);

/// `volumes[i].image`: `{reference, pullPolicy}`.
struct VolumeImage<'w> {
    cx: Cx<'w>,
    index: usize,
}

impl<'de> Shape<'de> for VolumeImage<'_> {
    type Value = Option<VolumeFields<'de>>;

    fn walk(&self) -> &Walk {
        self.cx.walk
    }
    fn path(&self) -> String {
        format!(
            "{}.image",
            self.cx.item_path(SiteKind::ImageVolume, self.index)
        )
    }
    fn expected(&self) -> &'static str {
        "an object"
    }
    fn null(self) -> Self::Value {
        None
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        const KEYS: [&str; 2] = ["reference", "pullPolicy"];
        let mut values: [Option<Option<Cow<'de, str>>>; 2] = [None, None];
        while let Some(key) = map.next_key_seed(Key)? {
            let Some(i) = KEYS.iter().position(|k| *k == key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if values[i].is_some() {
                return Err(self.duplicate(&key));
            }
            values[i] = Some(map.next_value_seed(Step(Text {
                cx: self.cx,
                parent: (SiteKind::ImageVolume, self.index),
                key: if i == 0 {
                    "image.reference"
                } else {
                    "image.pullPolicy"
                },
            }))?);
        }
        let [reference, pull_policy] = values.map(Option::flatten);
        Ok(Some((reference, pull_policy)))
    }
}

/// A string field of a container or image volume.
struct Text<'w> {
    cx: Cx<'w>,
    parent: (SiteKind, usize),
    key: &'static str,
}

impl<'de> Shape<'de> for Text<'_> {
    type Value = Option<Cow<'de, str>>;

    fn walk(&self) -> &Walk {
        self.cx.walk
    }
    fn path(&self) -> String {
        format!(
            "{}.{}",
            self.cx.item_path(self.parent.0, self.parent.1),
            self.key
        )
    }
    fn expected(&self) -> &'static str {
        "a string"
    }
    fn null(self) -> Self::Value {
        None
    }

    fn str<E: de::Error>(self, s: Cow<'de, str>) -> Result<Self::Value, E> {
        Ok(Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites(kind: &str, object: &str) -> Result<Vec<(String, Option<String>)>, String> {
        let raw: &RawValue = serde_json::from_str(object).unwrap_or_else(|e| panic!("{e}"));
        let Some(location) = pod_spec_location(kind) else {
            panic!("{kind} not covered")
        };
        image_sites(raw, &location)
            .map(|sites| {
                sites
                    .into_iter()
                    .map(|s| (s.path(&location), s.image.map(Cow::into_owned)))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_image_source_of_a_pod() {
        let found = sites(
            "Pod",
            r#"{"spec": {
                "volumes": [{"name": "v", "image": {"reference": "v:1"}}, {"name": "r", "rbd": {"image": "not-an-image"}}],
                "ephemeralContainers": [{"name": "e", "image": "e:1"}],
                "containers": [{"name": "a", "image": "a:1"}, {"name": "b"}],
                "initContainers": [{"name": "i", "image": "i:1"}]
            }}"#,
        );
        assert_eq!(
            found,
            Ok(vec![
                ("spec.containers[0].image".into(), Some("a:1".into())),
                ("spec.containers[1].image".into(), None),
                ("spec.initContainers[0].image".into(), Some("i:1".into())),
                (
                    "spec.ephemeralContainers[0].image".into(),
                    Some("e:1".into())
                ),
                ("spec.volumes[0].image.reference".into(), Some("v:1".into())),
            ])
        );
    }

    #[test]
    fn cronjob_pod_spec_is_deep() {
        let found = sites(
            "CronJob",
            r#"{"metadata": {"spec": {"x": 1}}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "c"}]}}}}}}"#,
        );
        assert_eq!(
            found,
            Ok(vec![(
                "spec.jobTemplate.spec.template.spec.containers[0].image".into(),
                Some("c".into())
            )])
        );
    }

    #[test]
    fn pod_template_has_a_top_level_template() {
        let found = sites(
            "PodTemplate",
            r#"{"template": {"spec": {"containers": [{"image": "c"}]}}}"#,
        );
        assert_eq!(
            found,
            Ok(vec![(
                "template.spec.containers[0].image".into(),
                Some("c".into())
            )])
        );
    }

    #[test]
    fn missing_or_null_parts_have_no_images() {
        assert_eq!(
            sites("ReplicationController", r#"{"spec": {"replicas": 1}}"#),
            Ok(vec![])
        );
        assert_eq!(
            sites("Deployment", r#"{"spec": {"template": null}}"#),
            Ok(vec![])
        );
        assert_eq!(
            sites(
                "Pod",
                r#"{"spec": {"containers": null, "volumes": [{"name": "x", "image": null}]}}"#
            ),
            Ok(vec![])
        );
    }

    #[test]
    fn wrong_shapes_are_errors_with_paths() {
        for (kind, object, error) in [
            (
                "Deployment",
                r#"{"spec": {"template": {"spec": {"containers": {"image": "x"}}}}}"#,
                "spec.template.spec.containers: expected a list, found an object",
            ),
            (
                "Pod",
                r#"{"spec": {"containers": [{"image": ["x"]}]}}"#,
                "spec.containers[0].image: expected a string, found a list",
            ),
            (
                "Pod",
                r#"{"spec": "x"}"#,
                "spec: expected an object, found a string",
            ),
            ("Pod", r#"[1]"#, "expected an object, found a list"),
            (
                "Deployment",
                r#"{"spec": {"template": 5}}"#,
                "spec.template: expected an object, found a number",
            ),
            (
                "Pod",
                r#"{"spec": {"containers": [{"image": "a"}, 7]}}"#,
                "spec.containers[1]: expected an object, found a number",
            ),
            (
                "Pod",
                r#"{"spec": {"volumes": [{"image": {"reference": true}}]}}"#,
                "spec.volumes[0].image.reference: expected a string, found a boolean",
            ),
            (
                "Pod",
                r#"{"spec": {"volumes": [{"image": "x"}]}}"#,
                "spec.volumes[0].image: expected an object, found a string",
            ),
        ] {
            assert_eq!(sites(kind, object), Err(error.to_owned()), "{object}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_every_level() {
        for (object, error) in [
            (
                r#"{"spec": {"containers": [{"image": "good", "image": "evil"}]}}"#,
                r#"spec.containers[0]: key "image" is written twice"#,
            ),
            (
                r#"{"spec": {"containers": [], "containers": [{"image": "evil"}]}}"#,
                r#"spec: key "containers" is written twice"#,
            ),
            (
                r#"{"spec": {}, "spec": {"containers": [{"image": "evil"}]}}"#,
                r#"key "spec" is written twice"#,
            ),
            (
                r#"{"spec": {"containers": [{"im\u0061ge": "a", "image": "b"}]}}"#,
                r#"spec.containers[0]: key "image" is written twice"#,
            ),
        ] {
            assert_eq!(sites("Pod", object), Err(error.to_owned()), "{object}");
        }
    }

    #[test]
    fn other_kinds_are_not_covered() {
        assert!(pod_spec_location("Service").is_none());
        assert!(pod_spec_location("pod").is_none());
    }
}
