//! Real signatures on a real registry, made in the test itself: Debian's
//! `docker-registry` on loopback, small images pushed with oci-client, and
//! cosign signatures in cosign's own layout made with the sigstore crate
//! (Debian's skopeo cannot sign: its sigstore support is patched out).
//!
//! A signature of `repo@sha256:<hex>` is the manifest tagged
//! `repo:sha256-<hex>.sig`, one layer per signature, each layer the
//! simple-signing payload (media type
//! `application/vnd.dev.cosign.simplesigning.v1+json`,
//! `{"critical": {"identity": {"docker-reference": …}, "image":
//! {"docker-manifest-digest": …}, "type": "cosign container image
//! signature"}, "optional": {annotations}}`) with the base64 signature in the
//! layer annotation `dev.cosignproject.cosign/signature`: what `cosign sign
//! --key` pushes. Keys are generated as cosign generates them, written as
//! `cosign.key` (cosign's encrypted `ENCRYPTED SIGSTORE PRIVATE KEY`) and
//! `cosign.pub`, and read back from those files to sign.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sigstore::cosign::constraint::{AnnotationMarker, PrivateKeySigner};
use sigstore::cosign::{Constraint, SignatureLayer};
use sigstore::crypto::SigningScheme;
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::registry::OciReference;

/// The password of the test keys' `cosign.key`.
const PASSWORD: &[u8] = b"imagegate-test";

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A new empty directory for `name` under the system's temp dir.
    pub fn new(name: &str) -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "imagegate-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("scratch dir");
        Scratch(path)
    }

    /// A path inside.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Debian's docker-registry on 127.0.0.1, stopped (by its pid) when dropped.
pub struct TestRegistry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    child: Child,
    /// Closing it stops the registry.
    stop: Option<std::process::ChildStdin>,
    runtime: tokio::runtime::Runtime,
    client: Client,
    _dir: Scratch,
}

impl TestRegistry {
    /// Starts a registry with its storage in a scratch directory and waits
    /// until it answers.
    pub fn start(name: &str) -> TestRegistry {
        assert!(
            Command::new("docker-registry")
                .arg("--version")
                .output()
                .is_ok(),
            "the signature tests need Debian's docker-registry: apt-get install -y docker-registry \
             (make setup-test installs it)"
        );
        let dir = Scratch::new(name);
        let addr = format!("127.0.0.1:{}", free_port());
        let config = dir.path("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: warn, accesslog: {{disabled: true}}}}\n\
                 storage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: \"{addr}\"}}\n",
                dir.path("storage").display()
            ),
        )
        .expect("registry config");
        let log = std::fs::File::create(dir.path("registry.log")).expect("registry log");
        // The registry runs under a shell that stops it, and removes its
        // directory, when its stdin closes: on drop, or when the test
        // process ends, even for a registry a `static` holds (statics are
        // never dropped).
        let mut child = Command::new("sh")
            .args([
                "-c",
                "docker-registry serve \"$1\" & registry=$!; read -r _; kill $registry; \
                 wait $registry; rm -rf \"$2\"",
                "sh",
            ])
            .arg(&config)
            .arg(&dir.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry starts");
        let stop = child.stdin.take();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::new(ClientConfig {
            protocol: ClientProtocol::HttpsExcept(vec![addr.clone()]),
            ..ClientConfig::default()
        });
        let registry = TestRegistry {
            addr,
            child,
            stop,
            runtime,
            client,
            _dir: dir,
        };
        registry.wait_until_up();
        registry
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(&self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut log = String::new();
        let _ = std::fs::File::open(self._dir.path("registry.log"))
            .and_then(|mut f| f.read_to_string(&mut log));
        panic!("docker-registry did not start on {}: {log}", self.addr);
    }

    /// Pushes a small image whose one layer holds `content` as
    /// `repository:tag`; returns its manifest digest.
    pub fn push_image(&self, repository: &str, tag: &str, content: &str) -> String {
        let reference = Reference::with_tag(self.addr.clone(), repository.into(), tag.into());
        let layer = ImageLayer::new(
            content.as_bytes().to_vec(),
            "application/vnd.oci.image.layer.v1.tar".into(),
            None,
        );
        let config = Config::oci_v1(
            format!(
                r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
                layer.sha256_digest()
            )
            .into_bytes(),
            None,
        );
        let response = self
            .runtime
            .block_on(self.client.push(
                &reference,
                &[layer],
                config,
                &RegistryAuth::Anonymous,
                None,
            ))
            .expect("push the image");
        let digest = self
            .runtime
            .block_on(
                self.client
                    .fetch_manifest_digest(&reference, &RegistryAuth::Anonymous),
            )
            .expect("the pushed image's digest");
        assert!(response.manifest_url.contains(repository));
        digest
    }

    /// The registry's scratch directory, removed with it: a place for a
    /// test's keys and files that lives as long as the registry.
    pub fn dir(&self) -> &Path {
        &self._dir.0
    }

    /// `127.0.0.1:PORT/repository`.
    pub fn image(&self, repository: &str) -> String {
        format!("{}/{repository}", self.addr)
    }

    /// Pushes `signatures` of `repository@digest` as its cosign signature
    /// manifest (`repository:sha256-<hex>.sig`), replacing any there: one
    /// layer per signature, media type
    /// `application/vnd.dev.cosign.simplesigning.v1+json`, the signature
    /// (and, for keyless ones, the certificate and the Rekor bundle) in the
    /// layer's annotations, as cosign pushes them.
    pub fn sign(&self, repository: &str, digest: &str, signatures: &[Signing<'_>]) {
        let target = Reference::with_tag(
            self.addr.clone(),
            repository.into(),
            format!("{}.sig", digest.replace(':', "-")),
        );
        let layers: Vec<ImageLayer> = signatures
            .iter()
            .map(|s| {
                let layer = s.layer(&self.image(repository), s.payload_digest.unwrap_or(digest));
                let mut annotations = BTreeMap::from([(
                    "dev.cosignproject.cosign/signature".to_owned(),
                    layer.signature.clone().expect("signed"),
                )]);
                if let Some(keyless) = &s.keyless {
                    annotations.insert(
                        "dev.sigstore.cosign/certificate".into(),
                        keyless.certificate.clone(),
                    );
                    annotations.insert("dev.sigstore.cosign/bundle".into(), keyless.bundle.clone());
                }
                ImageLayer::new(
                    layer.raw_data,
                    "application/vnd.dev.cosign.simplesigning.v1+json".into(),
                    Some(annotations),
                )
            })
            .collect();
        let config = Config::oci_v1(b"{}".to_vec(), None);
        let mut manifest = OciImageManifest::build(&layers, &config, None);
        // Debian's docker-registry refuses an OCI manifest without its
        // media type in the body (cosign writes it too).
        manifest.media_type = Some(oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.into());
        // The blobs go up with a first manifest; the real one is written
        // as standard JSON. oci-client writes manifests as OLPC canonical
        // JSON, which leaves the newlines of a PEM certificate unescaped:
        // a registry rejects that (MANIFEST_INVALID).
        let plain = OciImageManifest::build(&layers, &Config::oci_v1(b"{}".to_vec(), None), None);
        self.runtime
            .block_on(
                self.client.push(
                    &target,
                    &layers,
                    config,
                    &RegistryAuth::Anonymous,
                    Some(OciImageManifest {
                        media_type: manifest.media_type.clone(),
                        layers: plain
                            .layers
                            .into_iter()
                            .map(|mut l| {
                                l.annotations = None;
                                l
                            })
                            .collect(),
                        ..plain
                    }),
                ),
            )
            .expect("push the signature's blobs");
        self.runtime
            .block_on(
                self.client.push_manifest_raw(
                    &target,
                    serde_json::to_vec(&manifest).expect("manifest JSON"),
                    oci_client::manifest::OCI_IMAGE_MEDIA_TYPE
                        .parse()
                        .expect("header value"),
                ),
            )
            .expect("push the signature");
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        drop(self.stop.take());
        let _ = self.child.wait();
    }
}

/// A key pair in cosign's files.
pub struct CosignKey {
    /// `cosign.key`: the encrypted private key, as `cosign generate-key-pair` writes it.
    pub private_pem: String,
    /// `cosign.pub`.
    pub public_pem: String,
}

impl CosignKey {
    /// A new ECDSA P-256 key pair (cosign's default), written to `dir` as
    /// `<name>.key` and `<name>.pub`.
    pub fn generate(dir: &Path, name: &str) -> CosignKey {
        let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .expect("a P-256 key");
        let pair = signer.to_sigstore_keypair().expect("key pair");
        let key = CosignKey {
            private_pem: pair
                .private_key_to_encrypted_pem(PASSWORD)
                .expect("encrypted PEM")
                .to_string(),
            public_pem: pair.public_key_to_pem().expect("public PEM"),
        };
        std::fs::write(dir.join(format!("{name}.key")), &key.private_pem).expect("write key");
        std::fs::write(dir.join(format!("{name}.pub")), &key.public_pem).expect("write pub");
        key
    }

    /// A PKCS#8 PEM private key (a certificate's key, from openssl).
    pub fn from_pkcs8(private_pem: &str, public_pem: &str) -> CosignKey {
        let pair = SigStoreKeyPair::from_pem(private_pem.as_bytes()).expect("PKCS#8 key");
        CosignKey {
            private_pem: pair
                .private_key_to_encrypted_pem(PASSWORD)
                .expect("encrypted PEM")
                .to_string(),
            public_pem: public_pem.to_owned(),
        }
    }
}

/// One signature to push.
pub struct Signing<'k> {
    /// The signer.
    pub key: &'k CosignKey,
    /// Annotations in the payload's `optional`.
    pub annotations: BTreeMap<String, String>,
    /// Sign this digest instead of the image's (a signature of something
    /// else, stored under the image's `.sig`).
    pub payload_digest: Option<&'k str>,
    /// A keyless signature's certificate and Rekor bundle.
    pub keyless: Option<KeylessProof>,
}

/// What makes a signature keyless: the signer's certificate (PEM) and a
/// Rekor bundle (JSON) for it.
#[derive(Clone)]
pub struct KeylessProof {
    /// `dev.sigstore.cosign/certificate`.
    pub certificate: String,
    /// `dev.sigstore.cosign/bundle`.
    pub bundle: String,
}

impl<'k> Signing<'k> {
    /// A signature by `key` with no annotations.
    pub fn by(key: &'k CosignKey) -> Signing<'k> {
        Signing {
            key,
            annotations: BTreeMap::new(),
            payload_digest: None,
            keyless: None,
        }
    }

    /// With payload annotations.
    pub fn with(mut self, annotations: &[(&str, &str)]) -> Signing<'k> {
        self.annotations = annotations
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        self
    }

    /// As a keyless signature, with this certificate and bundle.
    pub fn keyless(mut self, proof: KeylessProof) -> Signing<'k> {
        self.keyless = Some(proof);
        self
    }

    /// Naming another digest in the payload.
    pub fn naming(mut self, digest: &'k str) -> Signing<'k> {
        self.payload_digest = Some(digest);
        self
    }

    /// The signed layer: the key is read back from cosign's encrypted file
    /// format, as `cosign sign --key cosign.key` reads it.
    fn layer(&self, image: &str, digest: &str) -> SignatureLayer {
        let reference: OciReference = image.parse().expect("image reference");
        let mut layer = SignatureLayer::new_unsigned(&reference, digest).expect("payload");
        if !self.annotations.is_empty() {
            let marker = AnnotationMarker {
                annotations: self
                    .annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            };
            assert!(marker.add_constraint(&mut layer).expect("annotations"));
        }
        let signer = SigStoreKeyPair::from_encrypted_pem(self.key.private_pem.as_bytes(), PASSWORD)
            .expect("cosign.key reads back")
            .to_sigstore_signer(&SigningScheme::ECDSA_P256_SHA256_ASN1)
            .expect("signer");
        assert!(
            PrivateKeySigner::new_with_signer(signer)
                .add_constraint(&mut layer)
                .expect("sign")
        );
        layer
    }
}

/// Runs openssl in `dir`; panics with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian package openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A private PKI for the certificate mode: a root CA, an intermediate CA
/// and a code-signing leaf (ECDSA P-256, SAN e-mail) whose key signs.
pub struct TestPki {
    /// Root CA certificate, PEM.
    pub root_pem: String,
    /// Intermediate CA certificate, PEM.
    pub intermediate_pem: String,
    /// The leaf certificate, PEM.
    pub leaf_pem: String,
    /// The leaf's key, as a cosign key.
    pub leaf_key: CosignKey,
    /// Another root, which issued nothing here.
    pub other_root_pem: String,
}

impl TestPki {
    /// Makes the PKI in `dir` with openssl.
    pub fn make(dir: &Path) -> TestPki {
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        for (name, subject) in [
            ("root", "/CN=imagegate test root"),
            ("other", "/CN=someone else"),
        ] {
            let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
            let mut args = vec!["req", "-x509"];
            args.extend_from_slice(&ec);
            args.extend_from_slice(&[
                "-keyout",
                &key,
                "-out",
                &pem,
                "-days",
                "2",
                "-subj",
                subject,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(dir, &args);
        }
        std::fs::write(
            dir.join("ca.ext"),
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .expect("ext");
        std::fs::write(
            dir.join("leaf.ext"),
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=codeSigning\nsubjectAltName=email:release@example.com\n",
        )
        .expect("ext");
        for (name, subject, issuer, ext) in [
            (
                "intermediate",
                "/CN=imagegate test intermediate",
                "root",
                "ca.ext",
            ),
            ("leaf", "/CN=release signer", "intermediate", "leaf.ext"),
        ] {
            let mut args = vec!["req"];
            args.extend_from_slice(&ec);
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            args.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", subject]);
            openssl(dir, &args);
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &format!("{issuer}.pem"),
                    "-CAkey",
                    &format!("{issuer}.key"),
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    ext,
                    "-out",
                    &format!("{name}.pem"),
                ],
            );
        }
        openssl(
            dir,
            &["pkey", "-in", "leaf.key", "-pubout", "-out", "leaf.pub"],
        );
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("PKI file");
        TestPki {
            root_pem: read("root.pem"),
            intermediate_pem: read("intermediate.pem"),
            leaf_pem: read("leaf.pem"),
            leaf_key: CosignKey::from_pkcs8(&read("leaf.key"), &read("leaf.pub")),
            other_root_pem: read("other.pem"),
        }
    }
}

/// A private Sigstore instance for keyless signatures, made in the test: a
/// Fulcio-like CA (openssl) that issues short-lived code-signing
/// certificates carrying the OIDC issuer (Fulcio's extension
/// 1.3.6.1.4.1.57264.1.1) and, for GitHub Actions, the workflow repository
/// (…1.5); a Rekor-like key that signs each signature's bundle (the Signed
/// Entry Timestamp over the canonical JSON of the entry); and the
/// `trusted_root.json` naming both, as `cosign trusted-root create` writes it.
pub struct TestSigstore {
    dir: PathBuf,
    rekor: sigstore::crypto::SigStoreSigner,
    log_id: String,
    /// The trust root file.
    pub trusted_root: PathBuf,
    issued: AtomicU64,
}

impl TestSigstore {
    /// Makes the CA, the Rekor key and `trusted_root.json` in `dir`.
    pub fn make(dir: &Path) -> TestSigstore {
        use base64::Engine as _;
        use sha2::Digest as _;
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "fulcio.key",
                "-out",
                "fulcio.pem",
                "-days",
                "2",
                "-subj",
                "/O=imagegate test/CN=fulcio",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-in",
                "fulcio.pem",
                "-outform",
                "DER",
                "-out",
                "fulcio.der",
            ],
        );
        let fulcio_der = std::fs::read(dir.join("fulcio.der")).expect("CA DER");
        let rekor = SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .expect("Rekor key");
        let rekor_der = rekor
            .to_sigstore_keypair()
            .and_then(|k| k.public_key_to_der())
            .expect("Rekor public key");
        let key_id = sha2::Sha256::digest(&rekor_der);
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let trusted_root = dir.join("trusted_root.json");
        std::fs::write(
            &trusted_root,
            serde_json::json!({
                "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                "tlogs": [{"baseUrl": "https://rekor.test.invalid", "hashAlgorithm": "SHA2_256",
                           "publicKey": {"rawBytes": b64(&rekor_der), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                         "validFor": {"start": "2020-01-01T00:00:00Z"}},
                           "logId": {"keyId": b64(&key_id)}}],
                "certificateAuthorities": [{"subject": {"organization": "imagegate test", "commonName": "fulcio"},
                                            "uri": "https://fulcio.test.invalid",
                                            "certChain": {"certificates": [{"rawBytes": b64(&fulcio_der)}]},
                                            "validFor": {"start": "2020-01-01T00:00:00Z"}}],
                "ctlogs": [],
                "timestampAuthorities": []
            })
            .to_string(),
        )
        .expect("trusted_root.json");
        TestSigstore {
            dir: dir.to_owned(),
            rekor,
            log_id: key_id.iter().map(|b| format!("{b:02x}")).collect(),
            trusted_root,
            issued: AtomicU64::new(0),
        }
    }

    /// A key and its certificate for `subject` (`email:…` or `URI:…`, as
    /// openssl writes a SAN) from OIDC `issuer`, with a GitHub workflow
    /// `repository` when given; and the proof to attach to its signatures.
    pub fn issue(
        &self,
        subject: &str,
        issuer: &str,
        repository: Option<&str>,
    ) -> (CosignKey, KeylessProof) {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let hex = |text: &str| -> String { text.bytes().map(|b| format!("{b:02X}")).collect() };
        let mut ext = format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=codeSigning\nsubjectAltName={subject}\n\
             1.3.6.1.4.1.57264.1.1=DER:{}\n",
            hex(issuer)
        );
        if let Some(repository) = repository {
            ext.push_str(&format!("1.3.6.1.4.1.57264.1.5=DER:{}\n", hex(repository)));
        }
        let (ext_file, key, csr, pem, public) = (
            format!("signer{n}.ext"),
            format!("signer{n}.key"),
            format!("signer{n}.csr"),
            format!("signer{n}.pem"),
            format!("signer{n}.pub"),
        );
        std::fs::write(self.dir.join(&ext_file), ext).expect("ext");
        openssl(
            &self.dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/O=sigstore.dev",
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "fulcio.pem",
                "-CAkey",
                "fulcio.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                &ext_file,
                "-out",
                &pem,
            ],
        );
        openssl(
            &self.dir,
            &["pkey", "-in", &key, "-pubout", "-out", &public],
        );
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).expect("signer file");
        let certificate = read(&pem);
        (
            CosignKey::from_pkcs8(&read(&key), &read(&public)),
            KeylessProof {
                bundle: self.bundle(),
                certificate,
            },
        )
    }

    /// A Rekor bundle: the entry's Signed Entry Timestamp by the Rekor key.
    /// Its time is a few seconds after now, inside the certificate's
    /// validity (which starts now).
    fn bundle(&self) -> String {
        use base64::Engine as _;
        let integrated_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + 5;
        let body = base64::engine::general_purpose::STANDARD.encode(b"{\"kind\":\"hashedrekord\"}");
        // RFC 8785 canonical JSON: keys sorted, no spaces.
        let canonical = format!(
            r#"{{"body":"{body}","integratedTime":{integrated_time},"logID":"{}","logIndex":1}}"#,
            self.log_id
        );
        let set = self.rekor.sign(canonical.as_bytes()).expect("SET");
        serde_json::json!({
            "SignedEntryTimestamp": base64::engine::general_purpose::STANDARD.encode(set),
            "Payload": {"body": body, "integratedTime": integrated_time, "logIndex": 1, "logID": self.log_id}
        })
        .to_string()
    }
}
