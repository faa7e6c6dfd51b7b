//! Host entries: thin adapters from a host's calling convention to the core.

#[cfg(feature = "js")]
pub mod js;
#[cfg(feature = "wapc")]
pub mod wapc;
