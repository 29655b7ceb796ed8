//! How a root key is written down: 32 raw bytes, or their standard base64 (padding required,
//! surrounding whitespace ignored).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::sealer::KEY_LEN;

/// Encodes a key as base64 followed by a newline, the form written to new key files.
pub(crate) fn encode(key: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut text = Zeroizing::new(Vec::with_capacity(KEY_LEN * 2));
    let mut encoded = Zeroizing::new(STANDARD.encode(key));
    text.extend_from_slice(encoded.as_bytes());
    text.push(b'\n');
    encoded.clear();
    text
}

/// Decodes base64 text to a 32-byte key. The reason returned on failure never quotes the input.
pub(crate) fn decode_base64(text: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let text = text.trim_ascii();
    // Reserved up front so decoding never reallocates and leaves an unzeroized copy behind.
    let mut key = Zeroizing::new(Vec::with_capacity(
        base64::decoded_len_estimate(text.len()) + 3,
    ));
    if STANDARD.decode_vec(text, &mut key).is_err() {
        return Err("not valid base64".to_owned());
    }
    if key.len() != KEY_LEN {
        return Err(format!(
            "decodes to {} bytes; a root key is {KEY_LEN} bytes",
            key.len()
        ));
    }
    Ok(key)
}

/// Decodes key file contents: exactly 32 bytes are the raw key, anything else must be base64.
pub(crate) fn decode_file(contents: &[u8]) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    if contents.len() == KEY_LEN {
        return Ok(Zeroizing::new(contents.to_vec()));
    }
    decode_base64(contents).map_err(|_| "neither 32 raw bytes nor the base64 of 32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_keys_decode_back() {
        let key = [0xa5; KEY_LEN];
        let text = encode(&key);
        assert!(text.ends_with(b"=\n"));
        assert_eq!(decode_file(&text).unwrap().as_slice(), &key);
        assert_eq!(decode_base64(&text).unwrap().as_slice(), &key);
        assert_eq!(decode_file(&key).unwrap().as_slice(), &key);
    }

    #[test]
    fn reasons_do_not_quote_the_input() {
        let err = decode_base64(b"c2VjcmV0!!").unwrap_err();
        assert!(!err.contains("c2Vj") && !err.contains('!'), "{err}");
        let err = decode_base64(b"c2VjcmV0").unwrap_err();
        assert_eq!(err, "decodes to 6 bytes; a root key is 32 bytes");
        assert!(decode_file(b"short").is_err());
    }
}
