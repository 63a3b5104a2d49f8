//! Previews of uploaded images: decoded with limits (no decompression
//! bombs), shrunk to fit fixed boxes, encoded as JPEG (PNG when the image
//! has transparency). CPU work: callers run it on a blocking thread.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Previews fit within these squares; none is larger than the original.
pub const BOXES: [u32; 2] = [200, 800];

/// The largest file a preview is made from.
pub const MAX_SOURCE_BYTES: u64 = 32 * 1024 * 1024;

/// Decoding stops past this much memory (a 4096 x 4096 RGBA image).
const MAX_DECODE_ALLOC: u64 = 64 * 1024 * 1024;

/// One encoded preview.
pub struct Rendered {
    pub width: u32,
    pub height: u32,
    pub mime_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The size an image of `width` x `height` takes to fit a `side` square,
/// keeping its aspect ratio and never growing it.
pub fn fit(width: u32, height: u32, side: u32) -> (u32, u32) {
    if width <= side && height <= side {
        return (width, height);
    }
    let scale = f64::from(side) / f64::from(width.max(height));
    let w = (f64::from(width) * scale).round().max(1.0) as u32;
    let h = (f64::from(height) * scale).round().max(1.0) as u32;
    (w.min(side), h.min(side))
}

/// Previews of an image file, smallest first, or why none can be made.
pub fn render(source: &[u8]) -> Result<Vec<Rendered>, String> {
    let mut reader = ImageReader::new(Cursor::new(source))
        .with_guessed_format()
        .map_err(|e| format!("unreadable image: {e}"))?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| format!("cannot decode image: {e}"))?;
    let mut rendered: Vec<Rendered> = Vec::new();
    for side in BOXES {
        let (w, h) = fit(image.width(), image.height(), side);
        if rendered.last().is_some_and(|r| r.width == w && r.height == h) {
            continue;
        }
        let small = if (w, h) == (image.width(), image.height()) {
            image.clone()
        } else {
            image.thumbnail_exact(w, h)
        };
        rendered.push(encode(&small)?);
    }
    Ok(rendered)
}

fn encode(image: &DynamicImage) -> Result<Rendered, String> {
    let mut bytes = Vec::new();
    let (format, mime_type, image) = if image.color().has_alpha() {
        (ImageFormat::Png, "image/png", image.clone())
    } else {
        (ImageFormat::Jpeg, "image/jpeg", DynamicImage::ImageRgb8(image.to_rgb8()))
    };
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .map_err(|e| format!("cannot encode preview: {e}"))?;
    Ok(Rendered { width: image.width(), height: image.height(), mime_type, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_keep_the_aspect_ratio_and_never_grow() {
        assert_eq!(fit(4000, 3000, 200), (200, 150));
        assert_eq!(fit(300, 1200, 800), (200, 800));
        assert_eq!(fit(120, 80, 200), (120, 80));
        assert_eq!(fit(10000, 1, 200), (200, 1));
    }

    fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let image = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
                width,
                height,
                image::Rgba([9, 8, 7, 100]),
            ))
        } else {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
            }))
        };
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn a_large_photo_gets_both_sizes_as_jpeg() {
        let previews = render(&png(1600, 1200, false)).unwrap();
        let sizes: Vec<_> = previews.iter().map(|p| (p.width, p.height)).collect();
        assert_eq!(sizes, vec![(200, 150), (800, 600)]);
        assert!(previews.iter().all(|p| p.mime_type == "image/jpeg"));
        let decoded = image::load_from_memory(&previews[0].bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (200, 150));
    }

    #[test]
    fn a_small_transparent_image_gets_one_png_preview() {
        let previews = render(&png(50, 40, true)).unwrap();
        assert_eq!(previews.len(), 1);
        assert_eq!((previews[0].width, previews[0].height), (50, 40));
        assert_eq!(previews[0].mime_type, "image/png");
    }

    #[test]
    fn bytes_that_are_not_an_image_make_no_preview() {
        assert!(render(b"%PDF-1.7 not an image").is_err());
        let mut truncated = png(100, 100, false);
        truncated.truncate(60);
        assert!(render(&truncated).is_err());
    }
}
