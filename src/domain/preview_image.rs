//! A preview image as Chorus keeps it: decoded (JPEG, PNG, GIF or WebP,
//! within size limits that stop decompression bombs), turned upright,
//! scaled down to at most [`MAX_WIDTH`] × [`MAX_HEIGHT`] and encoded
//! afresh: JPEG, or PNG when it has transparency. Nothing of the original
//! file survives but its pixels: no EXIF (camera, place, time), no
//! comments, no colour profile, no trailing data.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

use super::Invalid;

pub const MAX_WIDTH: u32 = 1200;
pub const MAX_HEIGHT: u32 = 1200;
/// Pixels per side of an original at most (larger ones are not decoded).
const MAX_SOURCE_SIDE: u32 = 16_000;
/// Memory a decode may take at most.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
const JPEG_QUALITY: u8 = 85;

/// A re-encoded image, named by its content.
#[derive(Debug, Clone)]
pub struct PreviewImage {
    pub bytes: Vec<u8>,
    /// `image/jpeg` or `image/png`.
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of `bytes`, hex: its address.
    pub hash: String,
}

impl PreviewImage {
    /// `jpg` or `png`.
    pub fn extension(&self) -> &'static str {
        extension_of(self.content_type)
    }
}

pub fn extension_of(content_type: &str) -> &'static str {
    if content_type == "image/png" {
        "png"
    } else {
        "jpg"
    }
}

fn not_an_image() -> Invalid {
    Invalid::new("The file is not an image Chorus can read: use a JPEG, PNG, GIF or WebP.")
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, Invalid> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_an_image())?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP) => {}
        _ => return Err(not_an_image()),
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let broken =
        || Invalid::new("The image could not be read: it is damaged, cut short or too large.");
    let mut decoder = reader.into_decoder().map_err(|_| broken())?;
    let orientation = decoder.orientation().map_err(|_| broken())?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|_| broken())?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Decodes, scales down and re-encodes an image, or says why it cannot.
pub fn reencode(bytes: &[u8]) -> Result<PreviewImage, Invalid> {
    let mut image = decode(bytes)?;
    if image.width() > MAX_WIDTH || image.height() > MAX_HEIGHT {
        image = image.resize(MAX_WIDTH, MAX_HEIGHT, FilterType::Triangle);
    }
    let transparent = image.color().has_alpha() && {
        let rgba = image.to_rgba8();
        rgba.pixels().any(|p| p.0[3] < 255)
    };
    let mut out = Vec::new();
    let failed = |_| Invalid::new("The image could not be converted.");
    let content_type = if transparent {
        DynamicImage::ImageRgba8(image.to_rgba8())
            .write_with_encoder(PngEncoder::new(&mut out))
            .map_err(failed)?;
        "image/png"
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))
            .map_err(failed)?;
        "image/jpeg"
    };
    Ok(PreviewImage {
        hash: hex::encode(Sha256::digest(&out)),
        bytes: out,
        content_type,
        width: image.width(),
        height: image.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn png(image: DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_wide_photo_is_scaled_to_the_width_and_becomes_a_jpeg() {
        let wide = DynamicImage::ImageRgb8(RgbImage::from_pixel(3000, 1500, Rgb([200, 30, 30])));
        let kept = reencode(&png(wide)).unwrap();
        assert_eq!((kept.width, kept.height), (1200, 600));
        assert_eq!(kept.content_type, "image/jpeg");
        assert_eq!(&kept.bytes[..3], &[0xff, 0xd8, 0xff]);
        assert_eq!(kept.hash, hex::encode(Sha256::digest(&kept.bytes)));
    }

    #[test]
    fn transparency_is_kept_as_png() {
        let logo = DynamicImage::ImageRgba8(RgbaImage::from_pixel(64, 32, Rgba([0, 0, 0, 0])));
        let kept = reencode(&png(logo)).unwrap();
        assert_eq!(kept.content_type, "image/png");
        assert_eq!((kept.width, kept.height), (64, 32));
    }

    #[test]
    fn text_and_broken_files_are_refused_with_a_reason() {
        let text = reencode(b"<html>not an image</html>").unwrap_err();
        assert!(text.0.contains("not an image"), "{text}");
        let mut cut = png(DynamicImage::ImageRgb8(RgbImage::new(40, 40)));
        cut.truncate(cut.len() / 2);
        let broken = reencode(&cut).unwrap_err();
        assert!(broken.0.contains("could not be read"), "{broken}");
    }
}
