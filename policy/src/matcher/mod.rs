//! Pattern matchers for settings entries. Each kind of entry parses its text
//! once (at settings compile time) and matches parsed image references, never
//! raw strings.

pub mod glob;
pub mod image;
pub mod registry;
pub mod repository;
pub mod scope;
pub mod specificity;
pub mod tag;
