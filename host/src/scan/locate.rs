//! Lines of fields in a YAML (or JSON) document, for reports that point at
//! the manifest line of an image.
//!
//! The values come from serde-saphyr (or serde_json); this walks the same
//! text once more with the YAML event parser serde-saphyr is built on and
//! records, for every node, the line it starts on under its field path
//! (`spec.template.spec.containers[0].image`, `items[3]`). Anything it cannot
//! follow (complex keys, aliases, a parse error) just leaves paths out: a
//! report then falls back to a shorter path or the document's first line.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// Field path → line (1-based, in the text that was indexed).
#[derive(Debug, Default, Clone)]
pub struct Lines(HashMap<String, usize>);

/// Where the walk is inside a collection.
enum Frame {
    /// A mapping; `key` is the key whose value comes next, `None` while a key
    /// is expected.
    Map { path: String, key: Option<String> },
    /// A sequence; `index` is the index of the next item.
    Seq { path: String, index: usize },
    /// Something not followed (a complex key): its nodes are not recorded.
    Opaque,
}

/// `parent.key`, `key` at the top.
fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl Lines {
    /// Indexes the first document of `text`.
    pub fn index(text: &str) -> Lines {
        let mut lines = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut started = false;
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            let line = span.start.line();
            // The path of the node this event starts, and whether it is a
            // key (keys are not nodes of their own in a path).
            let is_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::SequenceStart(..)
                    | Event::MappingStart(..)
                    | Event::Alias(_)
            );
            let mut node_path: Option<String> = None;
            if is_node {
                match stack.last_mut() {
                    None if !started => {
                        started = true;
                        node_path = Some(String::new());
                    }
                    None => break, // a second document: not ours
                    Some(Frame::Map { path, key }) => match key.take() {
                        None => {
                            if let Event::Scalar(text, ..) = &event {
                                *key = Some(text.to_string());
                            } else {
                                // A complex key: follow nothing below it.
                                *key = Some(String::from("\u{0}"));
                                if matches!(
                                    event,
                                    Event::SequenceStart(..) | Event::MappingStart(..)
                                ) {
                                    stack.push(Frame::Opaque);
                                }
                            }
                            continue;
                        }
                        Some(k) => node_path = Some(join_key(path, &k)),
                    },
                    Some(Frame::Seq { path, index }) => {
                        node_path = Some(format!("{path}[{index}]"));
                        *index += 1;
                    }
                    Some(Frame::Opaque) => {}
                }
            }
            match event {
                Event::MappingStart(..) => {
                    stack.push(match node_path {
                        Some(path) => {
                            lines.entry(path.clone()).or_insert(line);
                            Frame::Map { path, key: None }
                        }
                        None => Frame::Opaque,
                    });
                }
                Event::SequenceStart(..) => {
                    stack.push(match node_path {
                        Some(path) => {
                            lines.entry(path.clone()).or_insert(line);
                            Frame::Seq { path, index: 0 }
                        }
                        None => Frame::Opaque,
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::DocumentEnd if started => break,
                _ => {
                    if let Some(path) = node_path {
                        lines.entry(path).or_insert(line);
                    }
                }
            }
        }
        Lines(lines)
    }

    /// The line of `path` (`""` is the document itself).
    pub fn get(&self, path: &str) -> Option<usize> {
        self.0.get(path).copied()
    }

    /// The line of `path`, else of the nearest thing written: for a pull
    /// policy not written, the image next to it; else the closest enclosing
    /// field (the container, the pod spec, ...); else the document.
    pub fn nearest(&self, path: &str) -> Option<usize> {
        if let Some(line) = self.get(path) {
            return Some(line);
        }
        let mut current = path;
        loop {
            let cut = current.rfind(['.', '['])?;
            let parent = current.get(..cut)?;
            if current.ends_with("imagePullPolicy") || current.ends_with("image.pullPolicy") {
                let image = if current.ends_with("image.pullPolicy") {
                    join_key(
                        parent.strip_suffix(".image").unwrap_or(parent),
                        "image.reference",
                    )
                } else {
                    join_key(parent, "image")
                };
                if let Some(line) = self.get(&image) {
                    return Some(line);
                }
            }
            if let Some(line) = self.get(parent) {
                return Some(line);
            }
            current = parent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "\
# a comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: busybox
      containers:
        - name: app
          image: \"nginx:1.27\"
          imagePullPolicy: Always
        - name: side
          image: ghcr.io/org/side:1
      volumes:
        - name: models
          image:
            reference: ghcr.io/org/models:1
";

    #[test]
    fn paths_of_images() {
        let lines = Lines::index(DEPLOYMENT);
        assert_eq!(lines.get(""), Some(2));
        assert_eq!(lines.get("kind"), Some(3));
        assert_eq!(
            lines.get("spec.template.spec.initContainers[0].image"),
            Some(11)
        );
        assert_eq!(
            lines.get("spec.template.spec.containers[0].image"),
            Some(14)
        );
        assert_eq!(
            lines.get("spec.template.spec.containers[1].image"),
            Some(17)
        );
        assert_eq!(
            lines.get("spec.template.spec.volumes[0].image.reference"),
            Some(21)
        );
    }

    #[test]
    fn missing_fields_fall_back() {
        let lines = Lines::index(DEPLOYMENT);
        assert_eq!(
            lines.nearest("spec.template.spec.containers[0].imagePullPolicy"),
            Some(15)
        );
        // Not written: the image next to it.
        assert_eq!(
            lines.nearest("spec.template.spec.containers[1].imagePullPolicy"),
            Some(17)
        );
        assert_eq!(
            lines.nearest("spec.template.spec.volumes[0].image.pullPolicy"),
            Some(21)
        );
        assert_eq!(
            lines.nearest("spec.template.spec.containers[5].image"),
            Some(13)
        );
        assert_eq!(lines.nearest("nothing.here"), None);
    }

    #[test]
    fn lists_and_json() {
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n- kind: Pod\n  spec:\n    containers: [{image: a}, {image: b}]\n";
        let lines = Lines::index(list);
        assert_eq!(lines.get("items[0]"), Some(4));
        assert_eq!(lines.get("items[1]"), Some(6));
        assert_eq!(lines.get("items[1].spec.containers[1].image"), Some(8));
        let json = "{\n  \"kind\": \"Pod\",\n  \"spec\": {\n    \"containers\": [\n      {\"image\": \"a\"}\n    ]\n  }\n}\n";
        let lines = Lines::index(json);
        assert_eq!(lines.get("spec.containers[0].image"), Some(5));
    }

    #[test]
    fn broken_text_gives_what_it_can() {
        let lines = Lines::index("a: 1\nb: [\n");
        assert_eq!(lines.get("a"), Some(1));
        let lines = Lines::index("? [a, b]\n: {c: 1}\nd: 2\n");
        assert_eq!(lines.get("d"), Some(3));
        assert_eq!(lines.get("c"), None);
    }
}
