//! Settings and the TLS certificate, loaded at start-up and reloaded on
//! SIGHUP or when their files change, without dropping requests.
//!
//! Each is held as an `Arc` behind a lock that is only taken to clone or
//! swap the `Arc`: a request takes the current settings once, at its start,
//! and finishes with them even if a reload swaps in new ones meanwhile;
//! new TLS handshakes get the new certificate, open connections keep theirs.
//!
//! Settings are checked by the policy's own `validate_settings` before they
//! are used: at start-up, settings that are not valid stop the server (exit
//! 1, the policy's message, as `imagegate run`); on reload they are refused,
//! logged and counted, and the old settings stay in force. The same holds
//! for a certificate and key that do not load or do not match.
//!
//! File changes are found by reading the files every `--reload-interval-ms`
//! and comparing bytes: that sees a Kubernetes ConfigMap or Secret update
//! (an atomic swap of a `..data` symlink) as well as an edit in place, and
//! needs no file-watching dependency.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::input;
use crate::invalid_settings::InvalidSettings;
use crate::output::SettingsValidationResponse;
use crate::runtime::Policy;

/// One version of the settings.
#[derive(Debug)]
pub struct Settings {
    /// The file's bytes, to notice changes.
    pub file_bytes: Vec<u8>,
    /// The settings object as compact JSON: what the policy is given.
    pub json: Vec<u8>,
    /// 0 for the settings read at start-up, then +1 per applied reload.
    pub generation: u64,
}

/// Reads `path` (YAML or JSON) into [`Settings`] of `generation`.
pub fn read_settings(path: &Path, generation: u64) -> anyhow::Result<Settings> {
    let file_bytes = std::fs::read(path).map_err(|e| {
        anyhow::anyhow!("settings file \"{}\": cannot read it: {e}", path.display())
    })?;
    parse_settings(path, file_bytes, generation)
}

/// Parses what was read (not the file again), so the bytes compared for
/// changes are the bytes in force.
fn parse_settings(path: &Path, file_bytes: Vec<u8>, generation: u64) -> anyhow::Result<Settings> {
    let value = input::parse_settings_bytes(&file_bytes, &path.display().to_string())?;
    Ok(Settings {
        file_bytes,
        json: serde_json::to_vec(&value)?,
        generation,
    })
}

/// Asks the policy, in a fresh instance (settings that make the guest trap
/// must not cost a serving instance), whether `settings` are valid; the
/// policy's message when not.
pub fn check_settings(policy: &Policy, settings: &Settings) -> Result<(), InvalidSettings> {
    let verdict = SettingsValidationResponse::from_guest(policy.validate_settings(&settings.json));
    if verdict.valid {
        Ok(())
    } else {
        Err(InvalidSettings(verdict.message))
    }
}

/// The settings in force.
#[derive(Debug)]
pub struct SettingsStore {
    path: PathBuf,
    current: RwLock<Arc<Settings>>,
    /// The file's bytes the last refused reload read: not retried (nor
    /// logged again) until the file changes or SIGHUP asks.
    refused: Mutex<Option<Vec<u8>>>,
}

impl SettingsStore {
    /// Settings read (and checked) at start-up.
    pub fn new(path: PathBuf, settings: Settings) -> SettingsStore {
        SettingsStore {
            path,
            current: RwLock::new(Arc::new(settings)),
            refused: Mutex::new(None),
        }
    }

    /// The settings file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings in force now.
    pub fn current(&self) -> Arc<Settings> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn replace(&self, settings: Settings) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
    }
}

/// What a reload attempt did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reloaded {
    /// The file is as it was.
    Unchanged,
    /// New settings are in force.
    Applied(u64),
}

/// Reloads the settings if the file changed (or always, with `force`):
/// read, check with the policy, swap. On error the old settings stay.
pub fn reload_settings(
    store: &SettingsStore,
    policy: &Policy,
    force: bool,
) -> anyhow::Result<Reloaded> {
    let current = store.current();
    let generation = current.generation + 1;
    let file_bytes = std::fs::read(store.path()).map_err(|e| {
        anyhow::anyhow!(
            "settings file \"{}\": cannot read it: {e}",
            store.path().display()
        )
    })?;
    let mut refused = store.refused.lock().unwrap_or_else(PoisonError::into_inner);
    let seen = file_bytes == current.file_bytes || refused.as_ref() == Some(&file_bytes);
    if !force && seen {
        return Ok(Reloaded::Unchanged);
    }
    let settings = parse_settings(store.path(), file_bytes.clone(), generation)
        .and_then(|settings| Ok(check_settings(policy, &settings).map(|()| settings)?));
    match settings {
        Ok(settings) => {
            *refused = None;
            store.replace(settings);
            Ok(Reloaded::Applied(generation))
        }
        Err(error) => {
            *refused = Some(file_bytes);
            Err(error)
        }
    }
}

/// The server's certificate and key files, and the pair in force.
#[derive(Debug)]
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<(Vec<u8>, Arc<CertifiedKey>)>,
    refused: Mutex<Option<Vec<u8>>>,
}

impl CertStore {
    /// Loads the chain and key; fails naming the file that is wrong.
    pub fn load(
        cert_path: PathBuf,
        key_path: PathBuf,
        provider: Arc<CryptoProvider>,
    ) -> anyhow::Result<CertStore> {
        let files = read_pair(&cert_path, &key_path)?;
        let key = parse_pair(&cert_path, &key_path, &files, &provider)?;
        let joined = [files.0.as_slice(), files.1.as_slice()].concat();
        Ok(CertStore {
            cert_path,
            key_path,
            provider,
            current: RwLock::new((joined, key)),
            refused: Mutex::new(None),
        })
    }

    /// Reloads the pair if either file changed since it was last loaded or
    /// refused (or always, with `force`). Returns whether a new pair is in
    /// force.
    pub fn reload(&self, force: bool) -> anyhow::Result<bool> {
        let files = read_pair(&self.cert_path, &self.key_path)?;
        let joined = [files.0.as_slice(), files.1.as_slice()].concat();
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            current.0 == joined || refused.as_ref() == Some(&joined)
        };
        if !force && seen {
            return Ok(false);
        }
        match parse_pair(&self.cert_path, &self.key_path, &files, &self.provider) {
            Ok(key) => {
                *refused = None;
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = (joined, key);
                Ok(true)
            }
            Err(error) => {
                *refused = Some(joined);
                Err(error)
            }
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .1,
        ))
    }
}

/// The PEM bytes of the certificate chain and of the key.
fn read_pair(cert_path: &Path, key_path: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let read = |path: &Path, flag: &str| {
        std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("{flag} \"{}\": cannot read it: {e}", path.display()))
    };
    Ok((read(cert_path, "--tls-cert")?, read(key_path, "--tls-key")?))
}

/// The signing key for the PEM chain and key, checked to match.
fn parse_pair(
    cert_path: &Path,
    key_path: &Path,
    (cert_pem, key_pem): &(Vec<u8>, Vec<u8>),
    provider: &CryptoProvider,
) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow::anyhow!(
                "--tls-cert \"{}\": not a PEM certificate chain: {e}",
                cert_path.display()
            )
        })?;
    if chain.is_empty() {
        anyhow::bail!(
            "--tls-cert \"{}\": no CERTIFICATE block in it",
            cert_path.display()
        );
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        anyhow::anyhow!(
            "--tls-key \"{}\": not a PEM private key: {e}",
            key_path.display()
        )
    })?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        anyhow::anyhow!(
            "--tls-cert \"{}\" and --tls-key \"{}\" do not make a usable pair: {e}",
            cert_path.display(),
            key_path.display()
        )
    })?;
    Ok(Arc::new(certified))
}
