//! Ctrl-C at a terminal signals the whole foreground process group, so the
//! command a tool waits for gets it too (docker passes it on to the
//! container, gcloud stops waiting for its operation). The tool itself
//! keeps running, so it can see what the interrupted command left and say
//! so, instead of a prompt while the command is still writing. Where the
//! tool then waits on its own, a second Ctrl-C may end it at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static CTRL_C: AtomicUsize = AtomicUsize::new(0);
static SECOND_EXITS: AtomicBool = AtomicBool::new(false);

const AGAIN: &[u8] = b"\ninterrupted again: stopped without waiting\n";

extern "C" fn count(_: libc::c_int) {
    if CTRL_C.fetch_add(1, Ordering::SeqCst) >= 1 && SECOND_EXITS.load(Ordering::SeqCst) {
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, AGAIN.as_ptr().cast(), AGAIN.len());
            libc::_exit(130);
        }
    }
}

/// Makes SIGINT leave this process running (its children still get it);
/// [`interrupted`] then says it came.
pub fn outlive_children_on_ctrl_c() {
    // SAFETY: installs a handler that only touches an atomic (and, the
    // second time, writes and exits), all async-signal-safe. A handler
    // (unlike SIG_IGN) is reset to the default in the programs this
    // process starts, so they still react.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

/// Whether Ctrl-C came since [`outlive_children_on_ctrl_c`].
pub fn interrupted() -> bool {
    CTRL_C.load(Ordering::SeqCst) > 0
}

/// From now on a second Ctrl-C ends the process (exit 130), for a wait
/// the user may give up on.
pub fn second_ctrl_c_exits() {
    SECOND_EXITS.store(true, Ordering::SeqCst);
}

/// How many times Ctrl-C came since [`outlive_children_on_ctrl_c`]: a
/// loop that asks what to do compares it with the count it last saw.
pub fn times() -> usize {
    CTRL_C.load(Ordering::SeqCst)
}
