//! The words of `tls-protocols`, `tls-ciphersuites` and `tls-ciphers`, mapped onto what rustls
//! offers. Redis hands these strings to OpenSSL; slotkv accepts the same spellings for every
//! protocol and suite rustls implements and refuses the others by name, so a configuration never
//! silently means less than it says.

use rustls::{CipherSuite, ProtocolVersion};

/// TLS 1.3 suites by their IANA names (`tls-ciphersuites`).
const TLS13_SUITES: &[(&str, CipherSuite)] = &[
    (
        "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
];

/// TLS 1.2 suites by their OpenSSL names, as `tls-ciphers` takes them.
const TLS12_SUITES: &[(&str, CipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// OpenSSL cipher-string keywords that select every suite rustls offers (rustls has no weak
/// suites for them to add).
const TLS12_ALL_KEYWORDS: &[&str] = &["DEFAULT", "HIGH", "ALL", "ECDHE", "EECDH", "AESGCM"];

/// Protocol names Redis knows but rustls does not implement.
const OBSOLETE_PROTOCOLS: &[&str] = &["tlsv1", "tlsv1.1"];

/// Which protocol versions `tls-protocols` enables (empty string: TLS 1.2 and 1.3, the default).
pub fn protocols(text: &str) -> Result<Vec<ProtocolVersion>, String> {
    let mut versions = Vec::new();
    for word in text.split_ascii_whitespace() {
        let version = match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => ProtocolVersion::TLSv1_2,
            "tlsv1.3" => ProtocolVersion::TLSv1_3,
            obsolete if OBSOLETE_PROTOCOLS.contains(&obsolete) => {
                return Err(format!(
                    "{word} is not supported: slotkv speaks TLSv1.2 and TLSv1.3 only"
                ))
            }
            _ => return Err(format!("Invalid tls-protocols specified: '{word}'")),
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    if versions.is_empty() {
        versions = vec![ProtocolVersion::TLSv1_2, ProtocolVersion::TLSv1_3];
    }
    Ok(versions)
}

/// The TLS 1.3 suites `tls-ciphersuites` names, `None` for rustls's defaults (empty string).
pub fn ciphersuites(text: &str) -> Result<Option<Vec<CipherSuite>>, String> {
    let words: Vec<&str> = text.split(':').filter(|w| !w.trim().is_empty()).collect();
    if words.is_empty() {
        return Ok(None);
    }
    let mut suites = Vec::new();
    for word in words {
        let word = word.trim();
        let suite = TLS13_SUITES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|(_, suite)| *suite)
            .ok_or_else(|| format!("Unsupported TLS 1.3 ciphersuite '{word}'"))?;
        if !suites.contains(&suite) {
            suites.push(suite);
        }
    }
    Ok(Some(suites))
}

/// The TLS 1.2 suites `tls-ciphers` selects, `None` for rustls's defaults (empty string).
/// Names are OpenSSL's, separated by `:`; a `!`/`-` prefix removes what follows (an exclusion
/// of a suite rustls never offers is accepted and has nothing to do).
pub fn ciphers(text: &str) -> Result<Option<Vec<CipherSuite>>, String> {
    let words: Vec<&str> = text
        .split([':', ',', ' '])
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Ok(None);
    }
    let mut chosen: Vec<CipherSuite> = Vec::new();
    let mut excluded: Vec<CipherSuite> = Vec::new();
    for word in words {
        let (negated, name) = match word.strip_prefix(['!', '-']) {
            Some(name) => (true, name),
            None => (false, word.strip_prefix('+').unwrap_or(word)),
        };
        let selected = tls12_selection(name);
        match (negated, selected) {
            (true, Some(suites)) => excluded.extend(suites),
            (true, None) => {}
            (false, Some(suites)) => chosen.extend(suites),
            (false, None) => return Err(format!("Unsupported TLS 1.2 cipher '{name}'")),
        }
    }
    let mut unique: Vec<CipherSuite> = Vec::new();
    for suite in chosen {
        if !excluded.contains(&suite) && !unique.contains(&suite) {
            unique.push(suite);
        }
    }
    let chosen = unique;
    if chosen.is_empty() {
        return Err("tls-ciphers selects no cipher slotkv supports".to_owned());
    }
    Ok(Some(chosen))
}

fn tls12_selection(name: &str) -> Option<Vec<CipherSuite>> {
    if TLS12_ALL_KEYWORDS
        .iter()
        .any(|keyword| keyword.eq_ignore_ascii_case(name))
    {
        return Some(TLS12_SUITES.iter().map(|(_, suite)| *suite).collect());
    }
    TLS12_SUITES
        .iter()
        .find(|(openssl, _)| openssl.eq_ignore_ascii_case(name))
        .map(|(_, suite)| vec![*suite])
        .or_else(|| {
            // The IANA spelling (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) of the same suites.
            TLS12_SUITES
                .iter()
                .find(|(_, suite)| suite.as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                .map(|(_, suite)| vec![*suite])
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_default_to_both_and_refuse_old_ones() {
        assert_eq!(
            protocols("").unwrap(),
            vec![ProtocolVersion::TLSv1_2, ProtocolVersion::TLSv1_3]
        );
        assert_eq!(
            protocols("TLSv1.3").unwrap(),
            vec![ProtocolVersion::TLSv1_3]
        );
        assert!(protocols("TLSv1.1 TLSv1.2")
            .unwrap_err()
            .contains("TLSv1.1"));
        assert!(protocols("SSLv3").is_err());
    }

    #[test]
    fn tls13_suites_by_iana_name() {
        assert_eq!(ciphersuites("").unwrap(), None);
        assert_eq!(
            ciphersuites("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384").unwrap(),
            Some(vec![
                CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
                CipherSuite::TLS13_AES_256_GCM_SHA384
            ])
        );
        assert!(ciphersuites("TLS_AES_128_CCM_SHA256").is_err());
    }

    #[test]
    fn tls12_ciphers_openssl_names_keywords_and_exclusions() {
        assert_eq!(
            ciphers("ECDHE-RSA-AES256-GCM-SHA384").unwrap(),
            Some(vec![CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384])
        );
        assert_eq!(
            ciphers("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").unwrap(),
            Some(vec![CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256])
        );
        let all = ciphers("DEFAULT:!MEDIUM:!aNULL").unwrap().unwrap();
        assert_eq!(all.len(), TLS12_SUITES.len());
        let no_chacha = ciphers("HIGH:!ECDHE-RSA-CHACHA20-POLY1305")
            .unwrap()
            .unwrap();
        assert_eq!(no_chacha.len(), TLS12_SUITES.len() - 1);
        assert!(ciphers("AES128-SHA").unwrap_err().contains("AES128-SHA"));
        assert!(ciphers("!HIGH").is_err());
    }
}
