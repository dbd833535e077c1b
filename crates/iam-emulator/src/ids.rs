//! Generated values: entity ids, passwords, API-key secrets, and the SHA-256 digests the store keeps instead.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// An AWS-style 21-character id: `prefix` (4 chars) + 8 base32 chars encoding the account + 1 parity-dependent
/// char + random base32 chars. This is the construction moto/LocalStack use for `ACCA…`/`AIDA…` ids.
pub fn entity_id(prefix: &str, account_id: &str) -> String {
    let account: u64 = account_id.parse().unwrap_or(0);
    let with_offset = account / 2 + 549_755_813_888;
    let bytes = with_offset.to_be_bytes();
    let five = &bytes[3..8];
    let mut out = String::with_capacity(21);
    out.push_str(prefix);
    out.push_str(&base32(five));
    let mut rnd = [0u8; 16];
    rand::fill(&mut rnd);
    // Odd accounts draw the middle char from the upper half of the alphabet, even ones from the lower half.
    let middle = (rnd[0] % 16) as usize + if account % 2 == 1 { 16 } else { 0 };
    out.push(BASE32[middle] as char);
    for b in rnd.iter().skip(1) {
        if out.len() >= 21 {
            break;
        }
        out.push(BASE32[(*b % 32) as usize] as char);
    }
    out
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for b in bytes {
        buffer = (buffer << 8) | u64::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// A 20-character access key id: `prefix` (`AKIA` long-term, `ASIA` session) and 16 base32 characters.
pub fn access_key_id(prefix: &str) -> String {
    let mut rnd = [0u8; 16];
    rand::fill(&mut rnd);
    let mut id = String::from(prefix);
    id.extend(rnd.iter().map(|b| BASE32[(*b % 32) as usize] as char));
    id
}

/// A 40-character secret access key.
pub fn secret_access_key() -> String {
    let mut s = password();
    s.retain(|c| c != '=');
    s.truncate(40);
    s
}

/// An opaque STS session token.
pub fn session_token() -> String {
    let mut bytes = [0u8; 96];
    rand::fill(&mut bytes);
    format!("FwoGZXIvYXdzE{}", STANDARD.encode(bytes))
}

/// A CodeCommit/Keyspaces password: 60 characters, as live IAM's are (iam-api.md §14), here the standard
/// base64 of 45 random bytes (their alphabet is unrecorded).
pub fn password() -> String {
    let mut bytes = [0u8; 45];
    rand::fill(&mut bytes);
    STANDARD.encode(bytes)
}

/// An API-key secret: `prefix` + base64("<alias>:<60 random base64 chars>").
pub fn api_key_secret(prefix: &str, alias: &str) -> String {
    let mut bytes = [0u8; 45];
    rand::fill(&mut bytes);
    let inner = format!("{alias}:{}", STANDARD.encode(bytes));
    format!("{prefix}{}", STANDARD.encode(inner))
}

/// The alias encoded in an API-key secret, if `secret` has that shape.
pub fn alias_of_secret(prefix: &str, secret: &str) -> Option<String> {
    let body = secret.strip_prefix(prefix)?;
    let decoded = STANDARD.decode(body).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (alias, _) = text.split_once(':')?;
    Some(alias.to_string())
}

/// Hex SHA-256: what the store keeps instead of a password or secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two digests without an early exit.
pub fn digest_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_aws_shape() {
        let id = entity_id("ACCA", "000000000000");
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("ACCAQAAAAAAA"), "{id}");
        // Even account: the middle char is in A..=P.
        assert!(('A'..='P').contains(&id.chars().nth(12).unwrap()));
        assert!(
            id.chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
        let user = entity_id("AIDA", "123456789012");
        assert_eq!(user.len(), 21);
        assert!(user.starts_with("AIDA"));
        assert_ne!(entity_id("ACCA", "1"), entity_id("ACCA", "1"));
    }

    #[test]
    fn passwords_are_60_char_base64_of_45_bytes() {
        let p = password();
        assert_eq!(p.len(), 60);
        assert_eq!(STANDARD.decode(&p).unwrap().len(), 45);
    }

    #[test]
    fn api_key_secrets_embed_the_alias() {
        let s = api_key_secret("ABSK", "bob-at-123456789012");
        assert!(s.starts_with("ABSK"));
        assert_eq!(
            alias_of_secret("ABSK", &s).as_deref(),
            Some("bob-at-123456789012")
        );
        let inner = String::from_utf8(STANDARD.decode(&s[4..]).unwrap()).unwrap();
        assert_eq!(inner.split_once(':').unwrap().1.len(), 60);
        assert_eq!(alias_of_secret("ACWL", &s), None);
        assert_eq!(alias_of_secret("ABSK", "ABSK!!"), None);
    }

    #[test]
    fn digests_compare() {
        assert!(digest_eq(&digest("a"), &digest("a")));
        assert!(!digest_eq(&digest("a"), &digest("b")));
        assert_eq!(digest("a").len(), 64);
    }
}
