//! Key material made at run time with the `openssl` CLI (nothing is
//! committed), base64, and JWT pieces for the token endpoint.

use std::io::Write;
use std::process::{Command, Stdio};

/// A fresh RSA private key (PKCS#8 PEM) and its public key (PEM).
pub fn rsa_key_pair() -> Result<(String, String), String> {
    let private = run(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
        b"",
    )?;
    let public = run(&["pkey", "-pubout"], &private)?;
    Ok((
        String::from_utf8_lossy(&private).into_owned(),
        String::from_utf8_lossy(&public).into_owned(),
    ))
}

/// Whether `signature` is a valid RS256 signature of `data` by the key.
pub fn rs256_verifies(public_pem: &str, data: &[u8], signature: &[u8]) -> bool {
    let Ok(dir) = tempfile::tempdir() else {
        return false;
    };
    let (key, sig) = (dir.path().join("key.pem"), dir.path().join("sig"));
    if std::fs::write(&key, public_pem).is_err() || std::fs::write(&sig, signature).is_err() {
        return false;
    }
    let args = [
        "dgst",
        "-sha256",
        "-verify",
        key.to_str().unwrap_or_default(),
        "-signature",
        sig.to_str().unwrap_or_default(),
    ];
    run(&args, data).is_ok()
}

fn run(args: &[&str], stdin: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `openssl` ({e}); install it (Debian: openssl)"))?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "openssl {} failed: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn b64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(STD[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// URL-safe base64 without padding, as JWTs use.
pub fn b64url(data: &[u8]) -> String {
    b64(data)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    Some(out)
}

/// A well-formed, unsigned-in-spirit JWT (gcloud decodes an `id_token`
/// without checking its signature).
pub fn id_token(email: &str, audience: &str, now: u64) -> String {
    let header = serde_json::json!({"alg": "RS256", "kid": "kas-emulator", "typ": "JWT"});
    let claims = serde_json::json!({
        "iss": "https://accounts.google.com",
        "aud": audience,
        "azp": audience,
        "sub": format!("{}", 100000000000000000000u128 + email.len() as u128),
        "email": email,
        "email_verified": true,
        "iat": now,
        "exp": now + 3600,
    });
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        b64url(b"kas-emulator-signature")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            assert_eq!(unb64(&b64(s.as_bytes())).unwrap(), s.as_bytes());
            assert_eq!(unb64(&b64url(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(b64(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64(b"fo"), "Zm8=");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }
}
