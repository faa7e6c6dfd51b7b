//! imagegate policy core: which container images a Kubernetes cluster may run.
//!
//! The core is plain Rust with no I/O: it parses image references
//! ([`reference`]), compiles settings once into a [`Policy`], walks the pod
//! specs of an admission request and renders a verdict. The Kubewarden (waPC)
//! entry in `entry/wapc.rs` is a thin adapter around [`validate`] and
//! [`validate_settings`].

pub mod reference;

#[cfg(all(feature = "wapc", target_arch = "wasm32"))]
mod entry;
