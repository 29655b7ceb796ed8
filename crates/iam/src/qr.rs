//! The QR code a virtual MFA device's seed is shown as: the `otpauth://` URI encoded by the
//! `qrcode` crate, drawn as a greyscale PNG (zlib stored blocks, so no compressor is needed;
//! the image is a few kilobytes).

use rampart_service::AwsError;

/// Pixels per QR module.
const SCALE: usize = 6;
/// Light modules around the symbol (the standard's quiet zone).
const QUIET: usize = 4;

/// A PNG image of `text` as a QR code.
///
/// # Errors
/// The text does not fit in a QR code.
pub fn png_of(text: &str) -> Result<Vec<u8>, AwsError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|_| AwsError::internal())?;
    let width = code.width();
    let dark = code.to_colors();
    let side = (width + 2 * QUIET) * SCALE;
    let mut raw = Vec::with_capacity((side + 1) * side);
    for y in 0..side {
        raw.push(0); // filter: none
        let my = (y / SCALE).checked_sub(QUIET).filter(|m| *m < width);
        for x in 0..side {
            let mx = (x / SCALE).checked_sub(QUIET).filter(|m| *m < width);
            let is_dark = match (mx, my) {
                (Some(mx), Some(my)) => dark[my * width + mx] == qrcode::Color::Dark,
                _ => false,
            };
            raw.push(if is_dark { 0 } else { 255 });
        }
    }
    let side = u32::try_from(side).map_err(|_| AwsError::internal())?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    let mut digest = CRC.digest();
    digest.update(kind);
    digest.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&digest.finalize().to_be_bytes());
}

/// A zlib stream of uncompressed deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(0xffff).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_qr_png_is_a_well_formed_png() {
        let png =
            super::png_of("otpauth://totp/Test:alice?secret=MZXW6YTBOI&issuer=Test").expect("fits");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&png[12..16], b"IHDR");
        assert!(png.ends_with(&[0xae, 0x42, 0x60, 0x82]), "IEND's CRC");
    }
}
