//! Stopping `kas-emulator` cleanly: SIGINT, SIGTERM and SIGHUP wake the
//! main thread (through a pipe written by the handler), which then drops
//! the emulators so that their Ray processes and folders go with them.
//! Handlers, unlike blocked signal masks, are not inherited by the
//! programs the emulator starts.

use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Result, bail};

static WRITE_END: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = WRITE_END.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; one byte from a local.
        unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
}

/// Catches the stop signals from now on; returns the pipe's read end.
pub fn catch() -> Result<i32> {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        bail!("cannot make a pipe: {}", std::io::Error::last_os_error());
    }
    WRITE_END.store(fds[1], Ordering::Relaxed);
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only calls write(2).
        unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
    }
    Ok(fds[0])
}

/// Blocks until a stop signal arrives; returns it.
pub fn wait(read_end: i32) -> i32 {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads one byte into a local.
        let n = unsafe { libc::read(read_end, (&raw mut byte).cast(), 1) };
        if n == 1 {
            return i32::from(byte);
        }
    }
}
