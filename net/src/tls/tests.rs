//! Building TLS contexts from files made here with rcgen: what is accepted, what is refused
//! and with which message, and a handshake through the built configurations.

use std::path::{Path, PathBuf};

use pkcs8::der::pem::LineEnding;
use pkcs8::der::EncodePem;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use slotkv_engine::Reply;

use super::*;

struct Files {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    dir: PathBuf,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let ca_dir = dir.path().join("cas");
    std::fs::create_dir(&ca_dir).unwrap();
    write(&ca_dir, "ca.pem", &ca.pem());
    write(&ca_dir, "README", "not a certificate");
    Files {
        ca: write(dir.path(), "ca.crt", &ca.pem()),
        cert: write(dir.path(), "server.crt", &cert.pem()),
        key: write(dir.path(), "server.key", &key.serialize_pem()),
        dir: ca_dir,
        _dir: dir,
    }
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn settings(files: &Files) -> TlsSettings {
    TlsSettings {
        port: 6380,
        cert_file: text(&files.cert),
        key_file: text(&files.key),
        ca_cert_file: text(&files.ca),
        ..TlsSettings::default()
    }
}

#[test]
fn nothing_configured_builds_an_empty_context() {
    let context = TlsContext::build(&TlsSettings::default()).unwrap();
    assert!(context.server.is_none() && context.client.is_none());
}

#[test]
fn a_full_configuration_builds_both_sides() {
    let files = files();
    let context = TlsContext::build(&settings(&files)).unwrap();
    assert!(context.server.is_some() && context.client.is_some());
    let from_dir = TlsSettings {
        ca_cert_file: String::new(),
        ca_cert_dir: text(&files.dir),
        ..settings(&files)
    };
    assert!(TlsContext::build(&from_dir).unwrap().client.is_some());
}

#[test]
fn refusals_name_what_is_wrong() {
    let files = files();
    let no_ca = TlsSettings {
        ca_cert_file: String::new(),
        ..settings(&files)
    };
    let error = TlsContext::build(&no_ca).unwrap_err().to_string();
    assert!(
        error.contains("tls-ca-cert-file or tls-ca-cert-dir"),
        "{error}"
    );
    // Without client authentication a TLS port needs no CA.
    let no_auth = TlsSettings {
        auth_clients: AuthClients::No,
        ..no_ca
    };
    assert!(TlsContext::build(&no_auth).unwrap().client.is_none());
    let no_key = TlsSettings {
        key_file: String::new(),
        ..settings(&files)
    };
    assert!(matches!(
        TlsContext::build(&no_key),
        Err(TlsError::MissingCertificate)
    ));
    let missing = TlsSettings {
        cert_file: "/nonexistent/server.crt".to_owned(),
        ..settings(&files)
    };
    let error = TlsContext::build(&missing).unwrap_err().to_string();
    assert!(error.contains("/nonexistent/server.crt"), "{error}");
    let swapped = TlsSettings {
        cert_file: text(&files.key),
        ..settings(&files)
    };
    assert!(TlsContext::build(&swapped)
        .unwrap_err()
        .to_string()
        .contains("No PEM certificate"));
    let tls13_only_suites_for_tls12 = TlsSettings {
        protocols: "TLSv1.2".to_owned(),
        ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256".to_owned(),
        ..settings(&files)
    };
    assert!(TlsContext::build(&tls13_only_suites_for_tls12).is_ok());
}

fn encrypted_key_pem(files: &Files, pass: &str) -> String {
    let pem = std::fs::read_to_string(&files.key).unwrap();
    let (_, der) = pkcs8::der::pem::decode_vec(pem.as_bytes()).unwrap();
    let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[7; 16])
            .unwrap();
    let encrypted = info.encrypt_with_params(params, pass).unwrap();
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(encrypted.as_bytes()).unwrap();
    info.to_pem(LineEnding::LF).unwrap()
}

#[test]
fn encrypted_pkcs8_keys_need_their_passphrase() {
    let files = files();
    let encrypted = write(
        files.cert.parent().unwrap(),
        "enc.key",
        &encrypted_key_pem(&files, "s3cret"),
    );
    let with = |pass: &str| TlsSettings {
        key_file: text(&encrypted),
        key_file_pass: pass.to_owned(),
        ..settings(&files)
    };
    assert!(TlsContext::build(&with("s3cret")).is_ok());
    let error = TlsContext::build(&with("")).unwrap_err().to_string();
    assert!(error.contains("set tls-key-file-pass"), "{error}");
    let error = TlsContext::build(&with("wrong")).unwrap_err().to_string();
    assert!(error.contains("Cannot decrypt"), "{error}");
}

#[test]
fn legacy_encrypted_pem_is_refused_with_the_way_out() {
    let files = files();
    let legacy = write(
        files.cert.parent().unwrap(),
        "legacy.key",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    );
    let error = TlsContext::build(&TlsSettings {
        key_file: text(&legacy),
        key_file_pass: "x".to_owned(),
        ..settings(&files)
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("openssl pkcs8 -topk8"), "{error}");
}

#[test]
fn reload_refuses_bad_files_with_redis_message() {
    let files = files();
    let mut config = crate::config::Settings {
        tls: settings(&files),
        ..crate::config::Settings::default()
    };
    assert!(reload_for(&["maxmemory"], &config).unwrap().is_none());
    assert!(reload_for(&["tls-cert-file"], &config).unwrap().is_some());
    config.tls.cert_file = "/nonexistent".to_owned();
    let error = reload_for(&["tls-cert-file"], &config).unwrap_err();
    assert_eq!(
        Reply::from(error),
        Reply::Error(
            "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to \
             update TLS configuration. Check server logs."
                .to_owned()
        )
    );
}

#[tokio::test]
async fn built_configurations_complete_a_mutual_handshake() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let files = files();
    let state = TlsState::new(TlsContext::build(&settings(&files)).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = state.accept(tcp).await.unwrap();
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.unwrap();
        tls.write_all(&buf).await.unwrap();
        tls.flush().await.unwrap();
    });
    let client_state = TlsState::new(TlsContext::build(&settings(&files)).unwrap());
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Dialled by a name the certificate does not carry: the chain alone is checked.
    let mut tls = client_state.connect(tcp, "localhost", true).await.unwrap();
    tls.write_all(b"ping").await.unwrap();
    tls.flush().await.unwrap();
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    server.await.unwrap();
}
