//! `validate` on structure-aware admission requests.
//!
//! `arbitrary` builds a request around a pod spec written as JSON text (so
//! keys can be duplicated, escaped or mis-cased, and values can be numbers,
//! lists or objects where strings belong), with odd images drawn from a pool
//! of bypass attempts and mutated, and settings drawn from pools of entries.
//!
//! Checked: `validate` never panics, a rejection always says why, and, for
//! settings that only allow a list of registries, an accepted request has
//! every image the policy had to check on one of those registries, judged by
//! a small model written here, independently of the policy's matchers. An
//! image the model cannot place (it does not parse) must never be accepted.
#![no_main]

use std::fmt::Write as _;

use arbitrary::Arbitrary;
use imagegate_policy::capabilities::Offline;
use imagegate_policy::reference::Reference;
use imagegate_policy::validate;
use libfuzzer_sys::fuzz_target;

/// Images written the way people trying to get past a registry rule write
/// them (and a few plain ones).
const IMAGES: &[&str] = &[
    "nginx",
    "nginx:1.27",
    "docker.io/library/nginx",
    "index.docker.io/library/nginx:1",
    "INDEX.DOCKER.IO/nginx",
    "registry-1.docker.io/library/nginx",
    "registry-1.docker.io:443/library/nginx",
    "index.docker.io:0443/library/nginx",
    "docker.io:443/nginx",
    "ghcr.io/org/app:1",
    "ghcr.io:443/org/app",
    "ghcr.io:0443/org/app",
    "ghcr.io:8443/org/app",
    "GHCR.IO/org/app",
    "ghcr.io./org/app",
    "ghcr.io/org-evil/app",
    "evil.io/ghcr.io/org/app",
    "ghcr.io.evil.io/org/app",
    "ghcr.i\u{43e}/org/app",
    "\u{ff47}hcr.io/org/app",
    "gh\u{200b}cr.io/org/app",
    " ghcr.io/org/app",
    "ghcr.io/org/app ",
    "ghcr.io/org/app\n",
    "\tghcr.io/org/app",
    "ghcr.io%2forg/app",
    "ghcr.io/org/app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "evil.io/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "ghcr.io/org/app@evil.io/x",
    "ghcr.io/org/app:1:2",
    "localhost/x",
    "localhost:5000/x",
    "[::1]:5000/x",
    "[::1]/x",
    "EVILHOST/app",
    "evilhost/app",
    "registry.k8s.io/pause:3.9",
    "registry.k8s.io:5000/pause",
    "harbor.corp.example:8443/team/x",
    "",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

/// Registries an allow list may name (exact names; the model knows them).
const HOSTS: &[&str] = &[
    "ghcr.io",
    "docker.io",
    "index.docker.io",
    "registry.k8s.io",
    "GHCR.IO",
    "localhost",
    "[::1]",
    "harbor.corp.example",
];

/// Entries for the other lists (anything goes: these only feed the
/// never-panics check).
const PATTERNS: &[&str] = &[
    "ghcr.io/org",
    "ghcr.io/org/*",
    "nginx",
    "nginx:latest",
    "busybox:1.36",
    "docker.io/library",
    "*.corp.example/team",
    "*:*/x",
    "evil.io",
    "*",
    "*:*",
    "*.example.com",
    "app:1.*",
    "localhost:5000/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

const TAGS: &[&str] = &[
    "latest",
    "*-SNAPSHOT",
    "1.*",
    "v?",
    "^v\\d+$",
    "(a|b)*",
    "[",
];

#[derive(Arbitrary, Debug)]
struct Input {
    kind: Kind,
    /// Where the pod spec is written: at the kind's own location, or at
    /// another kind's.
    placement: Option<Kind>,
    operation: Operation,
    sub_resource: Option<SubResource>,
    object_first: bool,
    spec: Vec<ListEntry>,
    spec_twice: bool,
    settings: Settings,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    ReplicationController,
    Job,
    CronJob,
    PodTemplate,
    Service,
    LowerPod,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicationController => "ReplicationController",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::PodTemplate => "PodTemplate",
            Kind::Service => "Service",
            Kind::LowerPod => "pod",
        }
    }

    /// The keys leading to the pod spec; `None` for kinds not checked.
    fn location(self) -> Option<&'static [&'static str]> {
        match self {
            Kind::Pod => Some(&["spec"]),
            Kind::Deployment
            | Kind::ReplicaSet
            | Kind::StatefulSet
            | Kind::DaemonSet
            | Kind::ReplicationController
            | Kind::Job => Some(&["spec", "template", "spec"]),
            Kind::CronJob => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
            Kind::PodTemplate => Some(&["template", "spec"]),
            Kind::Service | Kind::LowerPod => None,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Create,
    Update,
    Delete,
    Connect,
    Lower,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
            Operation::Lower => "create",
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum SubResource {
    Empty,
    Ephemeral,
    Status,
    Resize,
}

impl SubResource {
    fn name(self) -> &'static str {
        match self {
            SubResource::Empty => "",
            SubResource::Ephemeral => "ephemeralcontainers",
            SubResource::Status => "status",
            SubResource::Resize => "resize",
        }
    }
}

/// How a key is written; every spelling but `Cased` decodes to the key.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Spelling {
    Plain,
    /// The first character as a `\u` escape.
    EscapedFirst,
    /// Every character as a `\u` escape.
    EscapedAll,
    /// The first letter upper-cased: another key.
    Cased,
}

#[derive(Arbitrary, Debug)]
struct ListEntry {
    list: ListKey,
    spelling: Spelling,
    value: ListValue,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum ListKey {
    Containers,
    InitContainers,
    EphemeralContainers,
    Volumes,
    Other,
}

impl ListKey {
    fn name(self) -> &'static str {
        match self {
            ListKey::Containers => "containers",
            ListKey::InitContainers => "initContainers",
            ListKey::EphemeralContainers => "ephemeralContainers",
            ListKey::Volumes => "volumes",
            ListKey::Other => "nodeSelector",
        }
    }
}

#[derive(Arbitrary, Debug)]
enum ListValue {
    Null,
    Number,
    Text,
    Object(Vec<Field>),
    Items(Vec<ItemValue>),
}

#[derive(Arbitrary, Debug)]
enum ItemValue {
    Null,
    Number,
    Fields(Vec<Field>),
}

#[derive(Arbitrary, Debug)]
struct Field {
    key: FieldKey,
    spelling: Spelling,
    value: FieldValue,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKey {
    Name,
    Image,
    ImagePullPolicy,
    Reference,
    PullPolicy,
    Other,
}

impl FieldKey {
    fn name(self) -> &'static str {
        match self {
            FieldKey::Name => "name",
            FieldKey::Image => "image",
            FieldKey::ImagePullPolicy => "imagePullPolicy",
            FieldKey::Reference => "reference",
            FieldKey::PullPolicy => "pullPolicy",
            FieldKey::Other => "command",
        }
    }
}

#[derive(Arbitrary, Debug)]
enum FieldValue {
    Image(ImageText),
    Null,
    Number(i32),
    Float,
    Bool(bool),
    List(Vec<ImageText>),
    /// An object of fields whose values are images (image volumes'
    /// `{reference, pullPolicy}`).
    Object(Vec<(FieldKey, Spelling, ImageText)>),
}

#[derive(Arbitrary, Debug)]
struct ImageText {
    base: u8,
    edits: Vec<Edit>,
    /// Write every non-ASCII-alphanumeric character as a `\u` escape.
    escape: bool,
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Insert(u8, u8),
    Remove(u8),
    Upper(u8),
    Append(u8),
    Prefix(u8),
}

/// Characters worth inserting into an image string.
const INSERTS: &[char] = &[
    '.', ':', '/', '@', '%', '_', '-', '*', '?', ' ', '\t', '\n', '\u{0}', '\u{a0}', '\u{200b}',
    '\u{430}', '\u{43e}', '\u{ff0e}', '\u{ff0f}', 'A', 'a', '0', '9', '[', ']',
];

/// Suffixes and prefixes worth adding.
const AFFIXES: &[&str] = &[
    ":latest",
    ":1.0",
    "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "/x",
    "evil.io/",
    "ghcr.io/",
    "docker.io/",
    ":443",
    ".",
    "%2e",
];

impl ImageText {
    fn text(&self) -> String {
        let base = IMAGES[usize::from(self.base) % IMAGES.len()];
        let mut chars: Vec<char> = base.chars().collect();
        for edit in self.edits.iter().take(8) {
            let at = |i: u8, len: usize| usize::from(i) % (len + 1);
            match *edit {
                Edit::Insert(i, c) => {
                    let at = at(i, chars.len());
                    chars.insert(at, INSERTS[usize::from(c) % INSERTS.len()]);
                }
                Edit::Remove(i) if !chars.is_empty() => {
                    let at = usize::from(i) % chars.len();
                    chars.remove(at);
                }
                Edit::Upper(i) if !chars.is_empty() => {
                    let at = usize::from(i) % chars.len();
                    chars[at] = chars[at].to_ascii_uppercase();
                }
                Edit::Append(a) => chars.extend(AFFIXES[usize::from(a) % AFFIXES.len()].chars()),
                Edit::Prefix(a) => {
                    let affix: Vec<char> =
                        AFFIXES[usize::from(a) % AFFIXES.len()].chars().collect();
                    chars.splice(0..0, affix);
                }
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    fn json(&self) -> String {
        let text = self.text();
        if self.escape {
            escape_all(&text, |c| !c.is_ascii_alphanumeric())
        } else {
            json_string(&text)
        }
    }
}

// One fuzz input at a time: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Arbitrary, Debug)]
enum Settings {
    /// `registries.allow` only, exact names: the model can judge these.
    AllowRegistries(Vec<u8>),
    /// `registries.reject` only, exact names: the model can judge these too.
    RejectRegistries(Vec<u8>),
    /// Anything from the pools.
    General {
        registries: (Vec<u8>, Vec<u8>),
        repositories: (Vec<u8>, Vec<u8>),
        images: (Vec<u8>, Vec<u8>),
        exempt: Vec<u8>,
        tags: (Vec<u8>, Vec<u8>, Vec<u8>),
        short_names_reject: bool,
        digests_require: bool,
        warn_source: bool,
        enforce_always: bool,
    },
}

fn pick(pool: &[&str], picks: &[u8]) -> Vec<String> {
    picks
        .iter()
        .take(6)
        .map(|&i| json_string(pool[usize::from(i) % pool.len()]))
        .collect()
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

impl Settings {
    fn json(&self) -> String {
        match self {
            Settings::AllowRegistries(hosts) => {
                format!(
                    r#"{{"registries": {{"allow": {}}}}}"#,
                    list(&pick(HOSTS, hosts))
                )
            }
            Settings::RejectRegistries(hosts) => {
                format!(
                    r#"{{"registries": {{"reject": {}}}}}"#,
                    list(&pick(HOSTS, hosts))
                )
            }
            Settings::General {
                registries,
                repositories,
                images,
                exempt,
                tags,
                short_names_reject,
                digests_require,
                warn_source,
                enforce_always,
            } => {
                let mut s = String::from("{");
                let lists = [
                    ("registries", HOSTS, registries),
                    ("repositories", PATTERNS, repositories),
                    ("images", PATTERNS, images),
                ];
                for (key, pool, (allow, reject)) in lists {
                    let _ = write!(
                        s,
                        r#""{key}": {{"allow": {}, "reject": {}}}, "#,
                        list(&pick(pool, allow)),
                        list(&pick(pool, reject))
                    );
                }
                let _ = write!(
                    s,
                    r#""exemptImages": {}, "tags": {{"reject": {}, "allow": {}, "allowRegex": {}}}, "#,
                    list(&pick(PATTERNS, exempt)),
                    list(&pick(TAGS, &tags.0)),
                    list(&pick(TAGS, &tags.1)),
                    list(&pick(TAGS, &tags.2)),
                );
                let _ = write!(
                    s,
                    r#""shortNames": "{}", "digests": {{"require": {digests_require}}}, "pullPolicy": {{"enforceAlways": {enforce_always}}}, "actions": {{"source": "{}"}}}}"#,
                    if *short_names_reject {
                        "reject"
                    } else {
                        "allow"
                    },
                    if *warn_source { "warn" } else { "deny" },
                );
                s
            }
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A JSON string with the characters `pick` selects written as `\u` escapes.
fn escape_all(s: &str, mut pick: impl FnMut(char) -> bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if pick(c) || c == '"' || c == '\\' || c.is_control() {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// A key as spelled, and the key it decodes to.
fn key(name: &str, spelling: Spelling) -> (String, String) {
    match spelling {
        Spelling::Plain => (json_string(name), name.to_owned()),
        Spelling::EscapedFirst => {
            let mut first = true;
            let escaped = escape_all(name, |_| std::mem::replace(&mut first, false));
            (escaped, name.to_owned())
        }
        Spelling::EscapedAll => (escape_all(name, |_| true), name.to_owned()),
        Spelling::Cased => {
            let mut cased = name.to_owned();
            if let Some(first) = cased.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            (json_string(&cased), cased)
        }
    }
}

/// What the model needs from the rendered request: each image string the
/// policy must have checked, for a request it must check.
#[derive(Default)]
struct Model {
    checked_images: Vec<String>,
}

fn render_field_value(value: &FieldValue, out: &mut String) -> Vec<(String, String)> {
    // Returns the (decoded key, image) pairs of an object value.
    let mut inner = Vec::new();
    match value {
        FieldValue::Image(text) => out.push_str(&text.json()),
        FieldValue::Null => out.push_str("null"),
        FieldValue::Number(n) => {
            let _ = write!(out, "{n}");
        }
        FieldValue::Float => out.push_str("1e999"),
        FieldValue::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        FieldValue::List(items) => {
            let items: Vec<String> = items.iter().take(4).map(ImageText::json).collect();
            out.push_str(&list(&items));
        }
        FieldValue::Object(fields) => {
            out.push('{');
            for (i, (k, spelling, text)) in fields.iter().take(6).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let (written, decoded) = key(k.name(), *spelling);
                let _ = write!(out, "{written}: {}", text.json());
                inner.push((decoded, text.text()));
            }
            out.push('}');
        }
    }
    inner
}

/// Renders the pod spec object and records in `model` the images the policy
/// must check when this is where it looks.
fn render_spec(entries: &[ListEntry], model: &mut Model) -> String {
    let mut out = String::from("{");
    for (i, entry) in entries.iter().take(8).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let (written, decoded) = key(entry.list.name(), entry.spelling);
        let _ = write!(out, "{written}: ");
        let is_volumes = decoded == "volumes";
        let checked_list = matches!(
            decoded.as_str(),
            "containers" | "initContainers" | "ephemeralContainers" | "volumes"
        );
        match &entry.value {
            ListValue::Null => out.push_str("null"),
            ListValue::Number => out.push('7'),
            ListValue::Text => out.push_str(r#""ghcr.io/org/app""#),
            ListValue::Object(fields) => {
                out.push('{');
                render_fields(fields, &mut out, &mut Vec::new());
                out.push('}');
            }
            ListValue::Items(items) => {
                out.push('[');
                for (j, item) in items.iter().take(6).enumerate() {
                    if j > 0 {
                        out.push_str(", ");
                    }
                    match item {
                        ItemValue::Null => out.push_str("null"),
                        ItemValue::Number => out.push('0'),
                        ItemValue::Fields(fields) => {
                            out.push('{');
                            let mut images = Vec::new();
                            render_fields(fields, &mut out, &mut images);
                            out.push('}');
                            if checked_list {
                                for (decoded_key, image) in images {
                                    match (&image, is_volumes) {
                                        (ModelImage::Direct(text), false)
                                            if decoded_key == "image" =>
                                        {
                                            model.checked_images.push(text.clone());
                                        }
                                        (ModelImage::Object(inner), true)
                                            if decoded_key == "image" =>
                                        {
                                            for (k, text) in inner {
                                                if k == "reference" {
                                                    model.checked_images.push(text.clone());
                                                }
                                            }
                                        }
                                        _ => {}
                                    }
                                }
                            }
                        }
                    }
                }
                out.push(']');
            }
        }
    }
    out.push('}');
    out
}

enum ModelImage {
    Direct(String),
    Object(Vec<(String, String)>),
    Other,
}

fn render_fields(fields: &[Field], out: &mut String, images: &mut Vec<(String, ModelImage)>) {
    for (i, field) in fields.iter().take(6).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let (written, decoded) = key(field.key.name(), field.spelling);
        let _ = write!(out, "{written}: ");
        let inner = render_field_value(&field.value, out);
        let image = match &field.value {
            FieldValue::Image(text) => ModelImage::Direct(text.text()),
            FieldValue::Object(_) => ModelImage::Object(inner),
            _ => ModelImage::Other,
        };
        images.push((decoded, image));
    }
}

/// Wraps `inner` (the pod spec) in the objects on the way to it.
fn wrap(keys: &[&str], inner: &str, twice: bool) -> String {
    let mut out = inner.to_owned();
    for (depth, k) in keys.iter().enumerate().rev() {
        out = if twice && depth == 0 {
            format!(r#"{{"{k}": {{}}, "metadata": {{"name": "x"}}, "{k}": {out}}}"#)
        } else {
            format!(r#"{{"metadata": {{"name": "x"}}, "{k}": {out}}}"#)
        };
    }
    out
}

/// Whether `image` is on one of `hosts`, by the model: host names compare
/// ignoring case, Docker Hub has three names, and the port must be the
/// default one (443; a port number may be written with leading zeros, as
/// runtimes read it as a number). `None` when the image does not parse.
fn on_registry(hosts: &[String], image: &str) -> Option<bool> {
    let reference = Reference::parse(image).ok()?;
    let docker_hub = |h: &str| {
        ["docker.io", "index.docker.io", "registry-1.docker.io"]
            .iter()
            .any(|d| d.eq_ignore_ascii_case(h))
    };
    let port = reference.port().map(|p| p.trim_start_matches('0'));
    if !matches!(port, None | Some("443")) {
        return Some(false);
    }
    let host = reference.host();
    Some(
        hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host) || docker_hub(h) && docker_hub(host)),
    )
}

fn hosts_of(picks: &[u8]) -> Vec<String> {
    picks
        .iter()
        .take(6)
        .map(|&i| HOSTS[usize::from(i) % HOSTS.len()].to_owned())
        .collect()
}

fuzz_target!(|input: Input| {
    let mut model = Model::default();
    let spec = render_spec(&input.spec, &mut model);
    let placement = input.placement.unwrap_or(input.kind);
    let object = match placement.location() {
        Some(keys) => wrap(keys, &spec, input.spec_twice),
        None => wrap(&["spec"], &spec, input.spec_twice),
    };
    let mut request = String::from(r#"{"uid": "fuzz", "#);
    let head = format!(
        r#""kind": {{"group": "", "version": "v1", "kind": "{}"}}, "operation": "{}", "#,
        input.kind.name(),
        input.operation.name()
    );
    let sub = input
        .sub_resource
        .map(|s| format!(r#""subResource": "{}", "#, s.name()))
        .unwrap_or_default();
    if input.object_first {
        let _ = write!(
            request,
            r#""object": {object}, {head}{sub}"oldObject": null}}"#
        );
    } else {
        let _ = write!(
            request,
            r#"{head}{sub}"object": {object}, "oldObject": null}}"#
        );
    }
    let payload = format!(
        r#"{{"request": {request}, "settings": {}}}"#,
        input.settings.json()
    );

    let response = validate(payload.as_bytes(), &Offline);
    assert!(response.accepted || response.message.is_some());

    let checked = matches!(input.operation, Operation::Create | Operation::Update)
        && matches!(
            input.sub_resource,
            None | Some(SubResource::Empty | SubResource::Ephemeral)
        )
        && input.kind.location().is_some()
        && placement.location() == input.kind.location();
    if !(response.accepted && checked) {
        return;
    }
    // Accepted: every image the policy had to check passed. Without a
    // model of the other settings, at least each one must parse (nothing
    // but `exemptImages` could accept an image that does not, and it cannot).
    for image in &model.checked_images {
        assert!(
            Reference::parse(image).is_ok(),
            "accepted an image that does not parse: {image:?}\n{payload}"
        );
    }
    match &input.settings {
        Settings::AllowRegistries(picks) if !picks.is_empty() => {
            let hosts = hosts_of(picks);
            for image in &model.checked_images {
                assert_eq!(
                    on_registry(&hosts, image),
                    Some(true),
                    "accepted {image:?}, which is not on the allowed {hosts:?}\n{payload}"
                );
            }
        }
        Settings::RejectRegistries(picks) => {
            let hosts = hosts_of(picks);
            for image in &model.checked_images {
                assert_eq!(
                    on_registry(&hosts, image),
                    Some(false),
                    "accepted {image:?}, which is on the rejected {hosts:?}\n{payload}"
                );
            }
        }
        _ => {}
    }
});
