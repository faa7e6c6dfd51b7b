//! The compiled-module cache: what makes a warm `imagegate run` cheap.
//!
//! Compiling policy.wasm with Cranelift takes 0.2–0.9 s; loading the same
//! machine code from disk takes about a millisecond. So the first run of a
//! given module stores wasmtime's serialized module (`Module::serialize`) and
//! later runs map it back (`Module::deserialize_file`).
//!
//! * Where: `$IMAGEGATE_CACHE_DIR/modules`, else
//!   `$XDG_CACHE_HOME/imagegate/modules`, else `$HOME/.cache/imagegate/modules`.
//!   `IMAGEGATE_MODULE_CACHE=off` turns the cache off.
//! * Key: the SHA-256 of the module's bytes and wasmtime's compatibility hash
//!   of the engine (its version and every setting that changes the machine
//!   code), so a new imagegate, wasmtime or configuration never loads a stale
//!   entry; it compiles and writes its own beside it.
//! * Writes go to a temporary file renamed into place, so concurrent runs
//!   never see half a file. A cache that cannot be written (read-only home)
//!   only costs the compile; an entry that does not load (truncated, foreign)
//!   is compiled again and replaced.
//!
//! Loading machine code is trusted in the way running a binary from your own
//! home directory is: the directory is created private to the user (0700 on
//! Unix), and only files this cache wrote are named by the key.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use crate::files;

/// A directory of compiled modules.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: PathBuf,
}

/// Where the module came from: reported by `imagegate bench` and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Loaded from the cache.
    Cached,
    /// Compiled now (and stored when the cache could be written).
    Compiled,
}

impl ModuleCache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> ModuleCache {
        ModuleCache { dir: dir.into() }
    }

    /// The user's cache as the environment gives it ([`files::cache_root`]),
    /// or `None` when it is turned off or no home directory is known.
    pub fn from_env() -> Option<ModuleCache> {
        if std::env::var_os("IMAGEGATE_MODULE_CACHE").is_some_and(|v| v == "off" || v == "0") {
            return None;
        }
        files::cache_root().map(|root| ModuleCache::new(root.join("modules")))
    }

    /// The file `bytes` compiled by `engine` is kept in.
    pub fn entry(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut engine_hash = DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let name = format!(
            "{:x}-{:016x}.cwasm",
            Sha256::digest(bytes),
            engine_hash.finish()
        );
        self.dir.join(name)
    }

    /// The module for `bytes`: from the cache when an entry loads, else
    /// compiled (`compile`) and stored.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        compile: impl FnOnce() -> wasmtime::Result<Module>,
    ) -> wasmtime::Result<(Module, Origin)> {
        let entry = self.entry(engine, bytes);
        if entry.is_file() {
            // SAFETY: wasmtime requires that the file holds a module that
            // `Module::serialize` wrote for a compatible engine. The name is
            // the hash of the wasm bytes and of the engine's compatibility
            // hash, and only `store` below writes such names, in a directory
            // private to the user; wasmtime also checks the header (version,
            // target, settings) and refuses a mismatch with an error.
            if let Ok(module) = unsafe { Module::deserialize_file(engine, &entry) } {
                return Ok((module, Origin::Cached));
            }
        }
        let module = compile()?;
        // A cache that cannot be written only costs the next run a compile.
        let _ = self.store(&entry, &module);
        Ok((module, Origin::Compiled))
    }

    fn store(&self, entry: &Path, module: &Module) -> anyhow::Result<()> {
        let serialized = module.serialize().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        create_private_dir(&self.dir)?;
        files::write_atomically(entry, &serialized)
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &str = r#"(module (func (export "f") (result i32) i32.const 7))"#;

    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Module> {
        Module::new(engine, bytes)
    }

    fn call_f(engine: &Engine, module: &Module) -> i32 {
        let mut store = wasmtime::Store::new(engine, ());
        let instance = wasmtime::Instance::new(&mut store, module, &[]).unwrap();
        let f = instance.get_typed_func::<(), i32>(&mut store, "f").unwrap();
        f.call(&mut store, ()).unwrap()
    }

    #[test]
    fn second_load_comes_from_the_cache_and_runs() {
        let dir = tempdir("second-load");
        let cache = ModuleCache::new(dir.join("modules"));
        let engine = Engine::default();
        let bytes = wat::parse_str(MODULE).unwrap();

        let (first, origin) = cache
            .load_or_compile(&engine, &bytes, || compile(&engine, &bytes))
            .unwrap();
        assert_eq!(origin, Origin::Compiled);
        assert!(cache.entry(&engine, &bytes).is_file());

        let (second, origin) = cache
            .load_or_compile(&engine, &bytes, || panic!("must not compile again"))
            .unwrap();
        assert_eq!(origin, Origin::Cached);
        assert_eq!(call_f(&engine, &first), 7);
        assert_eq!(call_f(&engine, &second), 7);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_broken_entry_is_compiled_again_and_replaced() {
        let dir = tempdir("broken-entry");
        let cache = ModuleCache::new(&dir);
        let engine = Engine::default();
        let bytes = wat::parse_str(MODULE).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(cache.entry(&engine, &bytes), b"not a module").unwrap();

        let (module, origin) = cache
            .load_or_compile(&engine, &bytes, || compile(&engine, &bytes))
            .unwrap();
        assert_eq!(origin, Origin::Compiled);
        assert_eq!(call_f(&engine, &module), 7);
        let (_, origin) = cache
            .load_or_compile(&engine, &bytes, || panic!("must not compile again"))
            .unwrap();
        assert_eq!(origin, Origin::Cached, "the broken entry was replaced");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_key_changes_with_the_module_and_the_engine() {
        let cache = ModuleCache::new("/nonexistent");
        let plain = Engine::default();
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let epochs = Engine::new(&config).unwrap();
        let a = wat::parse_str(MODULE).unwrap();
        let b = wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 8))"#).unwrap();
        assert_ne!(cache.entry(&plain, &a), cache.entry(&plain, &b));
        assert_ne!(cache.entry(&plain, &a), cache.entry(&epochs, &a));
        assert_eq!(cache.entry(&plain, &a), cache.entry(&Engine::default(), &a));
    }

    #[test]
    fn an_unwritable_cache_still_compiles() {
        let file = tempdir("unwritable");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"a file where the directory should be").unwrap();
        let cache = ModuleCache::new(file.join("modules"));
        let engine = Engine::default();
        let bytes = wat::parse_str(MODULE).unwrap();
        let (module, origin) = cache
            .load_or_compile(&engine, &bytes, || compile(&engine, &bytes))
            .unwrap();
        assert_eq!(origin, Origin::Compiled);
        assert_eq!(call_f(&engine, &module), 7);
        let _ = std::fs::remove_file(file);
    }

    fn tempdir(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "imagegate-module-cache-{name}-{}",
            std::process::id()
        ))
    }
}
