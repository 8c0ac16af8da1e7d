//! QR images of a KHQR: SVG for screens, PNG for printing and apps that want a bitmap.
//!
//! Both keep the 4-module quiet zone that ISO/IEC 18004 asks for; without it, phone cameras
//! misread codes placed on busy backgrounds.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::app::error::AppError;

/// Modules of white border around the code.
pub const QUIET_ZONE_MODULES: usize = 4;
/// Pixels per module in the PNG.
pub const PNG_SCALE: usize = 8;

fn code(text: &str) -> Result<QrCode, AppError> {
    // Level M: KHQR strings are short enough, and M survives a scuffed print.
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(AppError::internal)
}

/// An SVG of `text`, at least 256 px wide, quiet zone included.
#[tracing::instrument(skip_all)]
pub fn svg(text: &str) -> Result<String, AppError> {
    Ok(code(text)?
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// The module matrix with its quiet zone, as rows of booleans (true = dark).
#[tracing::instrument(skip_all)]
pub fn matrix(text: &str) -> Result<Vec<Vec<bool>>, AppError> {
    let code = code(text)?;
    let width = code.width();
    let colors = code.to_colors();
    let side = width + 2 * QUIET_ZONE_MODULES;
    let mut rows = vec![vec![false; side]; side];
    for (index, color) in colors.iter().enumerate() {
        let (y, x) = (
            index / width + QUIET_ZONE_MODULES,
            index % width + QUIET_ZONE_MODULES,
        );
        if let Some(cell) = rows.get_mut(y).and_then(|row| row.get_mut(x)) {
            *cell = *color == qrcode::Color::Dark;
        }
    }
    Ok(rows)
}

/// A grayscale PNG of `text`, `PNG_SCALE` pixels per module, quiet zone included.
#[tracing::instrument(skip_all)]
pub fn png(text: &str) -> Result<Vec<u8>, AppError> {
    let rows = matrix(text)?;
    let side = rows.len() * PNG_SCALE;
    let mut pixels = Vec::with_capacity(side * side);
    for row in &rows {
        let mut line = Vec::with_capacity(side);
        for dark in row {
            line.extend(std::iter::repeat_n(
                if *dark { 0u8 } else { 255u8 },
                PNG_SCALE,
            ));
        }
        for _ in 0..PNG_SCALE {
            pixels.extend_from_slice(&line);
        }
    }
    let side = u32::try_from(side).map_err(AppError::internal)?;
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(AppError::internal)?;
        writer
            .write_image_data(&pixels)
            .map_err(AppError::internal)?;
    }
    Ok(out)
}
