//! The portal in a real browser: placeholder replaced below.
