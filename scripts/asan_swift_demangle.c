/*
 * Preloaded next to libasan by scripts/sanitize.sh (ARROYO_SANITIZE=address,...), so that a
 * PostgreSQL that is not instrumented can start with ASan's runtime preloaded.
 *
 * Why: with LD_PRELOAD=libasan.so and an uninstrumented postgres, ASan initializes lazily, on
 * the first intercepted call. Library constructors run before it: libgpg-error's (a dependency
 * of postgres through libgcrypt) calls bindtextdomain(), which takes glibc's _nl_state_lock for
 * writing and, inside it, calls malloc(). That malloc initializes ASan, whose initialization
 * looks up the optional symbol "swift_demangle" (dlsym(RTLD_DEFAULT, ...)) and clears the
 * failed lookup's message with dlerror(). dlerror() translates the message with dcgettext(),
 * which "read-locks" _nl_state_lock: the writer is the same thread, so the read lock fails
 * (EDEADLK, ignored), and dcgettext's unlock then releases the *write* lock bindtextdomain
 * holds. bindtextdomain's own unlock then drops a read lock nobody holds, leaving the lock's
 * reader count at -1, and the next bindtextdomain (postgres's own, in
 * set_pglocale_pgservice()) waits for it forever: `postgres -V` hangs. Locale settings
 * (LC_ALL, LANGUAGE) do not matter: the lock is taken whatever the locale.
 *
 * With a "swift_demangle" defined in the process the lookup succeeds, dlerror() has no message
 * to translate, and the lock is left alone. ASan only calls it to demangle Swift symbols in
 * reports; returning NULL means "not a Swift symbol", so C++ names are demangled as usual.
 */
#include <stddef.h>

char *swift_demangle(const char *mangled, size_t mangled_len, char *out, size_t *out_len,
                     unsigned flags);

char *swift_demangle(const char *mangled, size_t mangled_len, char *out, size_t *out_len,
                     unsigned flags) {
    (void)mangled;
    (void)mangled_len;
    (void)out;
    (void)out_len;
    (void)flags;
    return NULL;
}
