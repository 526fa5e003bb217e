//! A real browser (Debian's chromium + chromium-driver over WebDriver).
