//! TLS for clients, replication and the cluster bus (rustls with the ring provider), configured
//! by Redis 7's `tls-*` directives.
//!
//! - [`TlsSettings`]: the directives as written (CONFIG GET prints them back).
//! - [`TlsContext`]: the rustls server and client configurations built from them; the server
//!   keeps the current one in [`TlsState`] and swaps it whole when CONFIG SET changes a file
//!   path, so new connections use the new certificate and established ones keep theirs.
//! - [`names`]: protocol and cipher names mapped onto rustls.
//! - [`keys`]: certificates and keys read from PEM files (encrypted PKCS#8 keys included).
//!
//! Outbound links (a replica to its primary, cluster bus links) verify the peer's chain against
//! the configured CA but not its host name, as Redis does with OpenSSL: nodes are addressed by
//! IP and certificates rarely name them.

mod keys;
pub mod names;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

pub use keys::KeyError;

/// A TLS handshake that has not finished by then is abandoned (a client that connects and
/// says nothing cannot hold a task forever).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Redis's refusal when peers must be verified and no CA is configured.
const CA_REQUIRED: &str = "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when \
     tls-cluster, tls-replication or tls-auth-clients are enabled!";

/// `tls-auth-clients`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthClients {
    /// A client certificate signed by the CA is required (Redis's default).
    #[default]
    Yes,
    /// A certificate is checked when the client sends one.
    Optional,
    /// Client certificates are not asked for.
    No,
}

impl AuthClients {
    pub fn parse(word: &[u8]) -> Option<AuthClients> {
        [
            ("yes", AuthClients::Yes),
            ("optional", AuthClients::Optional),
            ("no", AuthClients::No),
        ]
        .into_iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, value)| value)
    }

    pub fn name(self) -> &'static str {
        match self {
            AuthClients::Yes => "yes",
            AuthClients::Optional => "optional",
            AuthClients::No => "no",
        }
    }
}

/// The `tls-*` directives, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// `tls-port`: the TLS client listener, 0 for none.
    pub port: u16,
    pub cert_file: String,
    pub key_file: String,
    pub key_file_pass: String,
    /// `tls-client-cert-file` / `tls-client-key-file`: the certificate outbound links present
    /// (empty: the server's own).
    pub client_cert_file: String,
    pub client_key_file: String,
    pub client_key_file_pass: String,
    pub ca_cert_file: String,
    pub ca_cert_dir: String,
    pub auth_clients: AuthClients,
    /// `tls-protocols` (empty: TLSv1.2 and TLSv1.3).
    pub protocols: String,
    /// `tls-ciphersuites`: TLS 1.3 suites (empty: rustls's).
    pub ciphersuites: String,
    /// `tls-ciphers`: TLS 1.2 suites (empty: rustls's).
    pub ciphers: String,
    /// `tls-replication`: a replica's link to its primary speaks TLS.
    pub replication: bool,
    /// `tls-cluster`: the cluster bus speaks TLS.
    pub cluster: bool,
}

impl TlsSettings {
    /// Whether anything uses TLS (a listener or an outbound link).
    pub fn in_use(&self) -> bool {
        self.port != 0 || self.replication || self.cluster
    }

    /// Whether a directive named `name` is one whose change needs the context rebuilt.
    pub fn is_tls_directive(name: &str) -> bool {
        name.starts_with("tls-")
    }
}

/// Why a TLS configuration could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate, key or CA file could not be used.
    Key(KeyError),
    /// `tls-cert-file` / `tls-key-file` missing while TLS is used.
    MissingCertificate,
    /// Peers must be verified but no CA is configured.
    MissingCa,
    /// A name in `tls-protocols`, `tls-ciphers` or `tls-ciphersuites`.
    Names(String),
    /// rustls refused the combination (no suite for the protocols, key not matching...).
    Rustls(rustls::Error),
    /// The CA certificates could not make a verifier.
    Verifier(String),
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::Key(error) => write!(f, "{error}"),
            TlsError::MissingCertificate => {
                f.write_str("tls-cert-file and tls-key-file must be set when TLS is used")
            }
            TlsError::MissingCa => f.write_str(CA_REQUIRED),
            TlsError::Names(message) | TlsError::Verifier(message) => f.write_str(message),
            TlsError::Rustls(error) => write!(f, "TLS configuration refused: {error}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl From<KeyError> for TlsError {
    fn from(error: KeyError) -> Self {
        TlsError::Key(error)
    }
}

impl From<rustls::Error> for TlsError {
    fn from(error: rustls::Error) -> Self {
        TlsError::Rustls(error)
    }
}

/// The rustls configurations of one version of the settings.
#[derive(Debug, Clone, Default)]
pub struct TlsContext {
    /// For the TLS listener; `None` without a certificate.
    pub server: Option<Arc<ServerConfig>>,
    /// For outbound links (replication, cluster bus); `None` without a CA.
    pub client: Option<Arc<ClientConfig>>,
}

impl TlsContext {
    /// Builds both sides from `settings`: nothing when no TLS port or TLS link uses them (as
    /// Redis, the files are read only then), else the server side and, when a CA is
    /// configured, the client side. Fails on anything unusable.
    pub fn build(settings: &TlsSettings) -> Result<TlsContext, TlsError> {
        if !settings.in_use() {
            return Ok(TlsContext::default());
        }
        if settings.cert_file.is_empty() || settings.key_file.is_empty() {
            return Err(TlsError::MissingCertificate);
        }
        let provider = Arc::new(provider(settings)?);
        let versions = versions(settings)?;
        let roots = keys::load_roots(&settings.ca_cert_file, &settings.ca_cert_dir)?;
        let needs_ca = settings.replication
            || settings.cluster
            || (settings.port != 0 && settings.auth_clients != AuthClients::No);
        if needs_ca && roots.is_none() {
            return Err(TlsError::MissingCa);
        }
        let certs = keys::load_certs(&settings.cert_file)?;
        let key = keys::load_key(&settings.key_file, &settings.key_file_pass)?;
        let server = server_config(settings, &provider, &versions, roots.clone(), certs, key)?;
        let client = match roots {
            Some(roots) => Some(Arc::new(client_config(
                settings, &provider, &versions, roots,
            )?)),
            None => None,
        };
        Ok(TlsContext {
            server: Some(Arc::new(server)),
            client,
        })
    }
}

/// The ring provider with the configured suites. rustls deprecates ring's provider because it
/// lacks post-quantum key exchange; slotkv keeps it because it builds from crates.io with a
/// plain C compiler (aws-lc-rs needs cmake and more), and Redis's OpenSSL set-up offers no
/// post-quantum exchange either.
#[allow(deprecated)]
fn provider(settings: &TlsSettings) -> Result<CryptoProvider, TlsError> {
    let mut provider = rustls::crypto::ring::default_provider();
    let tls13 = names::ciphersuites(&settings.ciphersuites).map_err(TlsError::Names)?;
    let tls12 = names::ciphers(&settings.ciphers).map_err(TlsError::Names)?;
    provider.cipher_suites.retain(|suite| {
        let wanted = match suite.version().version {
            rustls::ProtocolVersion::TLSv1_3 => tls13.as_ref(),
            _ => tls12.as_ref(),
        };
        wanted.is_none_or(|names| names.contains(&suite.suite()))
    });
    Ok(provider)
}

fn versions(settings: &TlsSettings) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let wanted = names::protocols(&settings.protocols).map_err(TlsError::Names)?;
    Ok(rustls::ALL_VERSIONS
        .iter()
        .copied()
        .filter(|v| wanted.contains(&v.version))
        .collect())
}

fn server_config(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    roots: Option<Arc<RootCertStore>>,
    certs: Vec<rustls_pki_types::CertificateDer<'static>>,
    key: rustls_pki_types::PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let builder = match (settings.auth_clients, roots) {
        (AuthClients::No, _) | (_, None) => builder.with_no_client_auth(),
        (auth, Some(roots)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let verifier = match auth {
                AuthClients::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Verifier(format!("tls-ca-cert: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(builder.with_single_cert(certs, key)?)
}

fn client_config(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    roots: Arc<RootCertStore>,
) -> Result<ClientConfig, TlsError> {
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| TlsError::Verifier(format!("tls-ca-cert: {e}")))?;
    let verifier = Arc::new(verify::ChainOnly::new(webpki));
    let (cert_file, key_file, pass) = if settings.client_cert_file.is_empty() {
        (
            &settings.cert_file,
            &settings.key_file,
            &settings.key_file_pass,
        )
    } else {
        (
            &settings.client_cert_file,
            &settings.client_key_file,
            &settings.client_key_file_pass,
        )
    };
    let certs = keys::load_certs(cert_file)?;
    let key = keys::load_key(key_file, pass)?;
    Ok(ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(certs, key)?)
}

/// CONFIG SET's TLS step: when a `tls-*` directive is among `changed`, the context built from
/// the new settings (`None` when none is). A certificate, key or CA that cannot be used fails
/// the whole CONFIG SET, with Redis's message, and the old settings stay.
pub fn reload_for(
    changed: &[&'static str],
    settings: &crate::config::Settings,
) -> Result<Option<TlsContext>, slotkv_engine::CommandError> {
    let Some(name) = changed
        .iter()
        .find(|name| TlsSettings::is_tls_directive(name))
    else {
        return Ok(None);
    };
    match TlsContext::build(&settings.tls) {
        Ok(context) => Ok(Some(context)),
        Err(error) => {
            tracing::warn!("Failed to update TLS configuration: {error}");
            Err(crate::config::set_failed(
                name.as_bytes(),
                "Unable to update TLS configuration. Check server logs.",
            ))
        }
    }
}

/// The current TLS context of a running server, replaced whole on reload.
#[derive(Debug, Default)]
pub struct TlsState {
    current: RwLock<Arc<TlsContext>>,
}

impl TlsState {
    pub fn new(context: TlsContext) -> TlsState {
        TlsState {
            current: RwLock::new(Arc::new(context)),
        }
    }

    /// The context new connections use.
    pub fn current(&self) -> Arc<TlsContext> {
        self.current.read().clone()
    }

    /// Installs a context built from changed settings.
    pub fn replace(&self, context: TlsContext) {
        *self.current.write() = Arc::new(context);
    }

    /// Connects `stream` as a TLS client to `host` when `use_tls`, else returns it as it is.
    pub async fn connect(
        &self,
        stream: TcpStream,
        host: &str,
        use_tls: bool,
    ) -> std::io::Result<MaybeTls> {
        if !use_tls {
            return Ok(MaybeTls::Plain(stream));
        }
        let config = self.current().client.clone().ok_or_else(|| {
            std::io::Error::other("TLS requested but no tls-ca-cert-file or tls-ca-cert-dir")
        })?;
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let connecting = connector.connect(name, stream);
        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        Ok(MaybeTls::Tls(Box::new(tokio_rustls::TlsStream::Client(
            tls,
        ))))
    }

    /// Accepts a TLS session on `stream` with the current server configuration.
    pub async fn accept(
        &self,
        stream: TcpStream,
    ) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
        let config = self
            .current()
            .server
            .clone()
            .ok_or_else(|| std::io::Error::other("no TLS certificate configured"))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))?
    }
}

/// An outbound link's stream: plain TCP or TLS, chosen at connect time (links are few and
/// long-lived, so the enum's branch costs nothing that matters).
#[derive(Debug)]
pub enum MaybeTls {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl MaybeTls {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTls::Plain(stream) => stream,
            MaybeTls::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(stream) => std::pin::Pin::new(stream).poll_read(cx, buf),
            MaybeTls::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(stream) => std::pin::Pin::new(stream).poll_write(cx, buf),
            MaybeTls::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(stream) => std::pin::Pin::new(stream).poll_flush(cx),
            MaybeTls::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(stream) => std::pin::Pin::new(stream).poll_shutdown(cx),
            MaybeTls::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests;
