//! Certificates and private keys from PEM files: `tls-cert-file`, `tls-key-file` (plain PKCS#8,
//! PKCS#1 or SEC1, or PKCS#8 encrypted with `tls-key-file-pass`), `tls-ca-cert-file` and every
//! certificate file of `tls-ca-cert-dir`. Files are read with a size limit.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Larger PEM files are refused (a certificate chain is a few kilobytes).
const PEM_FILE_BYTES_MAX: u64 = 1024 * 1024;
/// Most files read from `tls-ca-cert-dir`.
const CA_DIR_FILES_MAX: usize = 4096;

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
/// The header of OpenSSL's legacy encrypted PEM keys (`openssl genrsa -aes256`).
const LEGACY_ENCRYPTED: &str = "Proc-Type: 4,ENCRYPTED";

/// Why a certificate or key file could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyError {
    Read {
        path: String,
        error: std::io::Error,
    },
    TooLarge {
        path: String,
    },
    NoCertificate {
        path: String,
    },
    NoKey {
        path: String,
    },
    /// The key is encrypted and `tls-key-file-pass` is empty.
    PassphraseMissing {
        path: String,
    },
    /// The passphrase is wrong or the encryption scheme unsupported.
    Decrypt {
        path: String,
        reason: String,
    },
    /// OpenSSL's legacy `Proc-Type: 4,ENCRYPTED` keys, which slotkv does not decrypt.
    LegacyEncryption {
        path: String,
    },
    BadCa {
        path: String,
        reason: String,
    },
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Read { path, error } => write!(f, "Cannot read {path}: {error}"),
            KeyError::TooLarge { path } => {
                write!(f, "{path} is larger than {PEM_FILE_BYTES_MAX} bytes")
            }
            KeyError::NoCertificate { path } => write!(f, "No PEM certificate found in {path}"),
            KeyError::NoKey { path } => write!(f, "No PEM private key found in {path}"),
            KeyError::PassphraseMissing { path } => {
                write!(f, "{path} is encrypted: set tls-key-file-pass")
            }
            KeyError::Decrypt { path, reason } => write!(f, "Cannot decrypt {path}: {reason}"),
            KeyError::LegacyEncryption { path } => write!(
                f,
                "{path} uses OpenSSL's legacy PEM encryption, which slotkv does not support: \
                 convert it to encrypted PKCS#8 (openssl pkcs8 -topk8 -v2 aes-256-cbc)"
            ),
            KeyError::BadCa { path, reason } => write!(f, "Bad CA certificate in {path}: {reason}"),
        }
    }
}

impl std::error::Error for KeyError {}

fn read_pem(path: &str) -> Result<Vec<u8>, KeyError> {
    let read_error = |error| KeyError::Read {
        path: path.to_owned(),
        error,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > PEM_FILE_BYTES_MAX {
        return Err(KeyError::TooLarge {
            path: path.to_owned(),
        });
    }
    std::fs::read(path).map_err(read_error)
}

/// Every certificate of a PEM file, in order (leaf first for a chain).
pub fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, KeyError> {
    let pem = read_pem(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(KeyError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The private key of a PEM file, decrypted with `pass` when it is encrypted PKCS#8.
pub fn load_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, KeyError> {
    let pem = read_pem(path)?;
    let text = String::from_utf8_lossy(&pem);
    if text.contains(LEGACY_ENCRYPTED) {
        return Err(KeyError::LegacyEncryption {
            path: path.to_owned(),
        });
    }
    if let Some(block) = encrypted_block(&text) {
        return decrypt(path, block, pass);
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| KeyError::NoKey {
        path: path.to_owned(),
    })
}

fn encrypted_block(text: &str) -> Option<&str> {
    let start = text.find(ENCRYPTED_BEGIN)?;
    let end = text[start..].find(ENCRYPTED_END)? + start + ENCRYPTED_END.len();
    text.get(start..end)
}

fn decrypt(path: &str, block: &str, pass: &str) -> Result<PrivateKeyDer<'static>, KeyError> {
    if pass.is_empty() {
        return Err(KeyError::PassphraseMissing {
            path: path.to_owned(),
        });
    }
    let failed = |reason: String| KeyError::Decrypt {
        path: path.to_owned(),
        reason,
    };
    let (_, der) =
        pkcs8::der::pem::decode_vec(block.as_bytes()).map_err(|e| failed(e.to_string()))?;
    let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
        .map_err(|e| failed(e.to_string()))?;
    let plain = encrypted
        .decrypt(pass.as_bytes())
        .map_err(|e| failed(format!("{e} (wrong tls-key-file-pass?)")))?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

/// The trusted CAs of `tls-ca-cert-file` and `tls-ca-cert-dir`; `None` when neither is set.
pub fn load_roots(file: &str, dir: &str) -> Result<Option<Arc<RootCertStore>>, KeyError> {
    if file.is_empty() && dir.is_empty() {
        return Ok(None);
    }
    let mut store = RootCertStore::empty();
    if !file.is_empty() {
        add_roots(&mut store, file, load_certs(file)?)?;
    }
    if !dir.is_empty() {
        for path in ca_dir_files(dir)? {
            let path = path.to_string_lossy().into_owned();
            // A hashed CA directory also holds CRLs and other files: only certificates count.
            if let Ok(certs) = load_certs(&path) {
                add_roots(&mut store, &path, certs)?;
            }
        }
    }
    if store.is_empty() {
        return Err(KeyError::NoCertificate {
            path: if file.is_empty() { dir } else { file }.to_owned(),
        });
    }
    Ok(Some(Arc::new(store)))
}

fn add_roots(
    store: &mut RootCertStore,
    path: &str,
    certs: Vec<CertificateDer<'static>>,
) -> Result<(), KeyError> {
    for cert in certs {
        store.add(cert).map_err(|e| KeyError::BadCa {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

fn ca_dir_files(dir: &str) -> Result<Vec<std::path::PathBuf>, KeyError> {
    let entries = std::fs::read_dir(Path::new(dir)).map_err(|error| KeyError::Read {
        path: dir.to_owned(),
        error,
    })?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .take(CA_DIR_FILES_MAX)
        .collect();
    files.sort();
    Ok(files)
}
