//! Where images sit in Kubernetes objects (SPEC 3), as data: one table from
//! kind to the location of its pod spec, and one walk over a pod spec that
//! yields every image field with its JSON field path.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::json::{self, ShapeError};

/// The kinds whose pod specs are checked, with the keys leading to the pod
/// spec inside the object.
const POD_SPEC_LOCATIONS: &[(&str, &[&str])] = &[
    ("Pod", &["spec"]),
    ("Deployment", &["spec", "template", "spec"]),
    ("ReplicaSet", &["spec", "template", "spec"]),
    ("StatefulSet", &["spec", "template", "spec"]),
    ("DaemonSet", &["spec", "template", "spec"]),
    ("ReplicationController", &["spec", "template", "spec"]),
    ("Job", &["spec", "template", "spec"]),
    (
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
    ("PodTemplate", &["template", "spec"]),
];

/// The keys leading to the pod spec of `kind`, or `None` for kinds the policy
/// does not check.
pub fn pod_spec_location(kind: &str) -> Option<&'static [&'static str]> {
    POD_SPEC_LOCATIONS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, path)| *path)
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
}

/// One image field of a pod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite<'a> {
    /// Where it came from.
    pub kind: SiteKind,
    /// Field path of the image, e.g. `spec.template.spec.containers[0].image`.
    pub path: String,
    /// The container's (or volume's) name, when written.
    pub name: Option<Cow<'a, str>>,
    /// The image as written; `None` when the field is missing or null.
    pub image: Option<Cow<'a, str>>,
    /// `imagePullPolicy` (or the image volume's `pullPolicy`) as written.
    pub pull_policy: Option<Cow<'a, str>>,
}

impl ImageSite<'_> {
    /// `container "app"`, or `container 0` when it has no name.
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

/// Every image field of the object's pod spec, in document order by list
/// (containers, init containers, ephemeral containers, volumes). An object
/// without a pod spec where one would be (an optional template) has none.
pub fn image_sites<'a>(
    object: &'a RawValue,
    location: &[&str],
) -> Result<Vec<ImageSite<'a>>, ShapeError> {
    let mut current = object;
    let mut path = String::new();
    for key in location {
        let Some([next]) = json::fields(current, &[*key], &path)? else {
            return Ok(Vec::new());
        };
        let Some(next) = next else {
            return Ok(Vec::new());
        };
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        current = next;
    }
    let Some([containers, init, ephemeral, volumes]) = json::fields(
        current,
        &[
            "containers",
            "initContainers",
            "ephemeralContainers",
            "volumes",
        ],
        &path,
    )?
    else {
        return Ok(Vec::new());
    };
    let mut sites = Vec::new();
    for (list, key, kind) in [
        (containers, "containers", SiteKind::Container),
        (init, "initContainers", SiteKind::InitContainer),
        (
            ephemeral,
            "ephemeralContainers",
            SiteKind::EphemeralContainer,
        ),
    ] {
        let Some(list) = list else { continue };
        let list_path = format!("{path}.{key}");
        for (i, item) in json::items(list, &list_path)?.into_iter().enumerate() {
            let item_path = format!("{list_path}[{i}]");
            let Some([name, image, pull_policy]) =
                json::fields(item, &["name", "image", "imagePullPolicy"], &item_path)?
            else {
                continue;
            };
            sites.push(ImageSite {
                kind,
                name: optional_string(name, &item_path, "name")?,
                image: optional_string(image, &item_path, "image")?,
                pull_policy: optional_string(pull_policy, &item_path, "imagePullPolicy")?,
                path: format!("{item_path}.image"),
            });
        }
    }
    if let Some(volumes) = volumes {
        let list_path = format!("{path}.volumes");
        for (i, item) in json::items(volumes, &list_path)?.into_iter().enumerate() {
            let item_path = format!("{list_path}[{i}]");
            let Some([name, image]) = json::fields(item, &["name", "image"], &item_path)? else {
                continue;
            };
            // Only image volumes carry images (`rbd.image` is not one).
            let Some(image) = image else { continue };
            let image_path = format!("{item_path}.image");
            let Some([reference, pull_policy]) =
                json::fields(image, &["reference", "pullPolicy"], &image_path)?
            else {
                continue;
            };
            sites.push(ImageSite {
                kind: SiteKind::ImageVolume,
                name: optional_string(name, &item_path, "name")?,
                image: optional_string(reference, &image_path, "reference")?,
                pull_policy: optional_string(pull_policy, &image_path, "pullPolicy")?,
                path: format!("{image_path}.reference"),
            });
        }
    }
    Ok(sites)
}

fn optional_string<'a>(
    raw: Option<&'a RawValue>,
    parent: &str,
    key: &str,
) -> Result<Option<Cow<'a, str>>, ShapeError> {
    match raw {
        None => Ok(None),
        Some(raw) => json::string(raw, &format!("{parent}.{key}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites(kind: &str, object: &str) -> Result<Vec<(String, Option<String>)>, ShapeError> {
        let raw: &RawValue = match serde_json::from_str(object) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let Some(location) = pod_spec_location(kind) else {
            panic!("{kind} not covered")
        };
        Ok(image_sites(raw, location)?
            .into_iter()
            .map(|s| (s.path, s.image.map(|i| i.into_owned())))
            .collect())
    }

    #[test]
    fn every_image_source_of_a_pod() {
        let found = sites(
            "Pod",
            r#"{"spec": {
                "containers": [{"name": "a", "image": "a:1"}, {"name": "b"}],
                "initContainers": [{"name": "i", "image": "i:1"}],
                "ephemeralContainers": [{"name": "e", "image": "e:1"}],
                "volumes": [{"name": "v", "image": {"reference": "v:1"}}, {"name": "r", "rbd": {"image": "not-an-image"}}]
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
            r#"{"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "c"}]}}}}}}"#,
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
    fn missing_template_has_no_images() {
        assert_eq!(
            sites("ReplicationController", r#"{"spec": {"replicas": 1}}"#),
            Ok(vec![])
        );
    }

    #[test]
    fn wrong_shapes_are_errors_with_paths() {
        let e = sites(
            "Deployment",
            r#"{"spec": {"template": {"spec": {"containers": {"image": "x"}}}}}"#,
        );
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("spec.template.spec.containers: expected a list, found an object".into())
        );
        let e = sites("Pod", r#"{"spec": {"containers": [{"image": ["x"]}]}}"#);
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("spec.containers[0].image: expected a string, found a list".into())
        );
        let e = sites("Pod", r#"{"spec": "x"}"#);
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("spec: expected an object, found a string".into())
        );
    }

    #[test]
    fn other_kinds_are_not_covered() {
        assert!(pod_spec_location("Service").is_none());
        assert!(pod_spec_location("pod").is_none());
    }
}
