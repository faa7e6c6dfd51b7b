//! Allocations per `validate`, counted: the request is read by borrowing,
//! so what a validate allocates depends on the images it checks, never on
//! the size of the rest of the request. Counts are deterministic, so unlike
//! timings they can be tested; `make bench` prints them
//! (`allocations_per_validate`, BENCHMARKS.md).
//!
//! The counter is per thread, so the test harness's other threads do not
//! disturb it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use imagegate_policy::capabilities::Offline;
use imagegate_policy::validate;
use serde_json::{Value, json};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// only addition is a thread-local counter without a destructor.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Allocations (and reallocations) of one validate of `payload`, after a
/// first call that compiled and cached the settings.
fn allocations(payload: &[u8]) -> usize {
    let warm = validate(payload, &Offline);
    assert!(warm.accepted, "{:?}", warm.message);
    let before = ALLOCATIONS.with(Cell::get);
    let response = validate(payload, &Offline);
    let count = ALLOCATIONS.with(Cell::get) - before;
    drop(response);
    count
}

/// A Deployment request in policy-server's key order, with `images` in its
/// containers and `labels` labels on its pod template.
fn deployment(images: &[String], labels: usize) -> Vec<u8> {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            json!({"name": format!("c{i}"), "image": image, "imagePullPolicy": "IfNotPresent",
                   "resources": {"limits": {"cpu": "1"}}, "env": [{"name": "A", "value": "b"}]})
        })
        .collect();
    let labels: serde_json::Map<String, Value> = (0..labels)
        .map(|i| (format!("label-{i}"), json!(format!("value-{i}"))))
        .collect();
    let object = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default", "labels": labels},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": labels},
                 "spec": {"containers": containers}}},
    });
    let settings = json!({"registries": {"allow": ["ghcr.io", "quay.io", "registry.k8s.io"]},
                          "tags": {"reject": ["latest"]}});
    format!(
        r#"{{"request":{{"uid":"u","kind":{{"group":"apps","version":"v1","kind":"Deployment"}},"operation":"CREATE","userInfo":{{"username":"admin","groups":["system:masters"]}},"object":{object}}},"settings":{settings}}}"#
    )
    .into_bytes()
}

fn images(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("ghcr.io/org/app-{i}:1.{i}"))
        .collect()
}

#[test]
fn allocations_grow_with_images_only() {
    let four = allocations(&deployment(&images(4), 2));
    let eight = allocations(&deployment(&images(8), 2));
    let sixteen = allocations(&deployment(&images(16), 2));
    // A constant cost per image: 8 more images add twice what 4 more did,
    // give or take the reallocations of a growing Vec.
    let (more_4, more_8) = (eight - four, sixteen - eight);
    assert!(
        more_8.abs_diff(2 * more_4) <= 2,
        "4 images: {four}, 8: {eight}, 16: {sixteen}"
    );
    // What is skipped costs nothing: 500 labels on the object and on its pod
    // template allocate exactly as much as 2.
    assert_eq!(allocations(&deployment(&images(4), 500)), four);
}

#[test]
fn allocations_per_validate_stay_few() {
    // The bench request of BENCHMARKS.md has 4 images. The budgets are the
    // counts measured when this test was written (2026-12-02: 18, and 2.5
    // per image), so a change that allocates more per request or per image
    // has to raise them on purpose.
    let four = allocations(&deployment(&images(4), 2));
    let sixteen = allocations(&deployment(&images(16), 2));
    let per_image = (sixteen - four) as f64 / 12.0;
    println!(
        "allocations per validate: 4 images {four}, 16 images {sixteen} ({per_image:.1} per image)"
    );
    assert!(four <= 18, "{four} allocations for 4 images");
    assert!(per_image <= 2.5, "{per_image:.1} allocations per image");
}
