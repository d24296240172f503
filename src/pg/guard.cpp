#include "pg/guard.hpp"

namespace pg {

std::string Error::full_message() const {
  if (detail_.empty()) return message_;
  return message_ + " (" + detail_ + ")";
}

Error error_from_current(MemoryContext restore_to) {
  MemoryContextSwitchTo(restore_to);
  ErrorData* edata = CopyErrorData();
  FlushErrorState();
  Error err(edata->sqlerrcode, edata->message ? edata->message : "unknown error",
            edata->detail ? edata->detail : "", edata->hint ? edata->hint : "",
            edata->context ? edata->context : "");
  FreeErrorData(edata);
  return err;
}

void fail(int sqlerrcode, std::string message, std::string detail, std::string hint) {
  throw Error(sqlerrcode, std::move(message), std::move(detail), std::move(hint));
}

// Copies what an exception says into palloc'd strings, so nothing C++-owned outlives the throw.
static void describe(std::exception_ptr ex, int* code, char** msg, char** detail, char** hint) {
  *code = ERRCODE_INTERNAL_ERROR;
  *detail = *hint = nullptr;
  try {
    std::rethrow_exception(ex);
  } catch (const Error& e) {
    *code = e.sqlerrcode();
    *msg = pstrdup(e.message().c_str());
    if (!e.detail().empty()) *detail = pstrdup(e.detail().c_str());
    if (!e.hint().empty()) *hint = pstrdup(e.hint().c_str());
  } catch (const std::bad_alloc&) {
    *code = ERRCODE_OUT_OF_MEMORY;
    *msg = pstrdup("out of memory in arroyo_stream");
  } catch (const std::exception& e) {
    *msg = psprintf("arroyo_stream internal error: %s", e.what());
  } catch (...) {
    *msg = pstrdup("arroyo_stream internal error: unknown exception");
  }
}

void raise_as_pg_error(std::exception_ptr& ex) {
  int code;
  char *msg, *detail, *hint;
  describe(ex, &code, &msg, &detail, &hint);
  ex = nullptr;  // release the exception object: the longjmp skips the holder's destructor
  ereport(ERROR, (errcode(code), errmsg_internal("%s", msg),
                  detail ? errdetail_internal("%s", detail) : 0, hint ? errhint("%s", hint) : 0));
  pg_unreachable();
}

}  // namespace pg
