//! TLS with rustls (ring provider): either the operator's certificate, or a
//! self-signed one generated on first start and kept in the data directory.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the generated certificate and key live, inside the data directory.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    (data_dir.join("tls-cert.pem"), data_dir.join("tls-key.pem"))
}

/// A rustls configuration from PEM files: the certificate chain and its private key.
pub fn load(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the TLS certificate chain {}", cert.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "no certificate found in {}",
        cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the TLS private key {}", key.display()))?;
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and private key do not make a usable pair")
}

/// What [`load_or_generate`] did.
pub struct SelfSigned {
    pub config: ServerConfig,
    pub cert_path: PathBuf,
    pub generated: bool,
}

/// Loads the self-signed certificate from the data directory, generating it first if
/// it is not there: valid for `localhost`, 127.0.0.1, ::1 and this machine's host name.
pub fn load_or_generate(data_dir: &Path) -> anyhow::Result<SelfSigned> {
    let (cert_path, key_path) = self_signed_paths(data_dir);
    let generated = !cert_path.exists() || !key_path.exists();
    if generated {
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let host = gethostname::gethostname();
        if let Some(host) = host.to_str().filter(|h| !h.is_empty() && *h != "localhost") {
            names.push(host.to_owned());
        }
        let generated = rcgen::generate_simple_self_signed(names)
            .context("generating a self-signed TLS certificate")?;
        write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())?;
        fs::write(&cert_path, generated.cert.pem())
            .with_context(|| format!("writing {}", cert_path.display()))?;
    }
    let config = load(&cert_path, &key_path)?;
    Ok(SelfSigned {
        config,
        cert_path,
        generated,
    })
}

/// Writes a file that only its owner may read (mode 0600).
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generates_once_then_reuses_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_generate(dir.path()).unwrap();
        assert!(first.generated);
        let (cert, key) = self_signed_paths(dir.path());
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let pem = fs::read(&cert).unwrap();

        let second = load_or_generate(dir.path()).unwrap();
        assert!(!second.generated);
        assert_eq!(
            fs::read(&cert).unwrap(),
            pem,
            "the certificate must be reused"
        );
    }

    #[test]
    fn a_key_that_does_not_match_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        load_or_generate(a.path()).unwrap();
        load_or_generate(b.path()).unwrap();
        let (cert_a, _) = self_signed_paths(a.path());
        let (_, key_b) = self_signed_paths(b.path());
        let err = load(&cert_a, &key_b).unwrap_err();
        assert!(
            format!("{err:#}").contains("do not make a usable pair"),
            "{err:#}"
        );
    }
}
