//! How `kas-emulator` stops: SIGTERM, SIGINT (Ctrl-C) and SIGHUP wake the
//! main thread, which then drops the emulator (servers, relays, temporary
//! folder) before dying of the same signal. The handler only writes the
//! signal's number to a pipe (the one thing a handler may safely do); a
//! handler, unlike a blocked signal mask, is not inherited by the commands
//! the emulator starts (`kubectl exec` runs local processes).

use std::sync::atomic::{AtomicI32, Ordering};

const SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// The pipe's writing end, for the handler.
static WAKE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let byte = signal as u8;
    // SAFETY: write(2) is async-signal-safe; the fd stays open for the
    // process's life.
    unsafe { libc::write(WAKE.load(Ordering::SeqCst), (&raw const byte).cast(), 1) };
}

/// The signals are caught from [`Signals::catch`] on.
pub struct Signals {
    read: libc::c_int,
}

impl Signals {
    pub fn catch() -> Signals {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: plain system calls on memory we own; the handler is an
        // `extern "C"` function that only calls write(2).
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "pipe(2) failed");
            for fd in fds {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
            WAKE.store(fds[1], Ordering::SeqCst);
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            for signal in SIGNALS {
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
        Signals { read: fds[0] }
    }

    /// Blocks until one of the signals arrives; returns it.
    pub fn wait(&self) -> libc::c_int {
        let mut byte = 0u8;
        loop {
            // SAFETY: reads one byte into a local.
            let n = unsafe { libc::read(self.read, (&raw mut byte).cast(), 1) };
            if n == 1 {
                return libc::c_int::from(byte);
            }
            if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return libc::SIGTERM;
            }
        }
    }
}

/// Ends the process as `signal` would have without the handler, so the
/// parent (a shell's `wait`) sees how it ended.
pub fn die_of(signal: libc::c_int) -> ! {
    // SAFETY: restoring the default action and raising a signal.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}
