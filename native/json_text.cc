// Body text straight from its bytes into JSON output.
//
// `tapline read` prints entries whose bodies are most of what it writes (on the
// benchmark capture, 129 M of 160 M characters). Done in JavaScript, each body is
// decoded from UTF-8 into a string, escaped by JSON.stringify into another string and
// encoded back to UTF-8 in the output buffer: three passes, two of them slow. Here it
// is one pass from the body's bytes into the output buffer, with the exact result of
// `JSON.stringify(bytes.toString('utf8'))` between the quotes:
// - UTF-8 is decoded as the WHATWG Encoding Standard says (what V8 does for
//   Buffer#toString): each maximal invalid subpart becomes U+FFFD (EF BF BD), and
//   well-formed sequences are copied unchanged;
// - `"` and `\` are escaped, as are control characters below 0x20, in
//   JSON.stringify's forms (\b \t \n \f \r, else \u00xx in lower-case hex).
// Bodies that are not text are written in base64 the same way (Buffer#toString('base64')).
// No library does this: simdutf validates and transcodes but does not escape, and JSON
// writers take strings. The oracle is V8 itself (src/cli/json-line.test.ts), for this
// file built as it is and built with TAPLINE_NO_SIMD (the portable path other CPUs take).

#include <node_api.h>

#include <cstdint>
#include <cstring>

#if defined(__SSE2__) && !defined(TAPLINE_NO_SIMD)
#include <emmintrin.h>
#endif

namespace {

// 1 for the bytes that leave the fast path: control characters, '"', '\\' and non-ASCII.
struct Table {
  uint8_t special[256];
  constexpr Table() : special() {
    for (int i = 0; i < 256; i++) special[i] = (i < 0x20 || i == '"' || i == '\\' || i >= 0x80) ? 1 : 0;
  }
};
constexpr Table kTable;

// For each ASCII byte, what JSON text it becomes (up to 6 bytes, kept in the memory order
// of one 8-byte word so that one load and one store copy it) and how long that is.
struct Escapes {
  uint64_t seq[128];
  uint8_t len[128];
  constexpr Escapes() : seq(), len() {
    const char hex[] = "0123456789abcdef";
    for (int b = 0; b < 128; b++) {
      uint8_t out[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int n = 0;
      char shortForm = b == '"' ? '"' : b == '\\' ? '\\' : b == '\b' ? 'b' : b == '\t' ? 't' : b == '\n' ? 'n' : b == '\f' ? 'f' : b == '\r' ? 'r' : 0;
      if (shortForm != 0) {
        out[n++] = '\\';
        out[n++] = static_cast<uint8_t>(shortForm);
      } else if (b < 0x20) {
        out[n++] = '\\';
        out[n++] = 'u';
        out[n++] = '0';
        out[n++] = '0';
        out[n++] = static_cast<uint8_t>(hex[b >> 4]);
        out[n++] = static_cast<uint8_t>(hex[b & 0xf]);
      } else {
        out[n++] = static_cast<uint8_t>(b);
      }
      uint64_t v = 0;
      for (int k = 0; k < 8; k++) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = (v << 8) | out[k];
#else
        v |= static_cast<uint64_t>(out[k]) << (8 * k);
#endif
      }
      seq[b] = v;
      len[b] = static_cast<uint8_t>(n);
    }
  }
};
constexpr Escapes kEscapes;

#if defined(__SSE2__) && !defined(TAPLINE_NO_SIMD)
#define TAPLINE_SSE2 1
#endif

#if !defined(TAPLINE_SSE2)
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// Whether any of the 8 bytes in x needs more than a copy.
inline bool AnySpecial(uint64_t x) {
  uint64_t below20 = (x - kOnes * 0x20) & ~x;          // a byte < 0x20 (or >= 0x80, caught below)
  uint64_t quote = x ^ (kOnes * '"');
  uint64_t backslash = x ^ (kOnes * '\\');
  uint64_t zeroQuote = (quote - kOnes) & ~quote;
  uint64_t zeroBackslash = (backslash - kOnes) & ~backslash;
  return ((below20 | zeroQuote | zeroBackslash | x) & kHighs) != 0;
}
#endif

// Writes the escaped text of src[0, n) at dst; returns the bytes written (at most 6 * n).
size_t Escape(const uint8_t* src, size_t n, uint8_t* dst) {
  uint8_t* out = dst;
  size_t i = 0;
  while (i < n) {
    // Runs of plain ASCII, 16 bytes at a time: the 16 are stored whatever they hold (dst
    // has 6 bytes of room per byte left) and `out` moves past the plain ones.
#if defined(TAPLINE_SSE2)
    // Stops 17 bytes from the end: the table path stores 8 bytes for the last of the 16,
    // which needs 2 bytes past the 6 per byte the caller leaves room for.
    while (i + 17 <= n) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
      unsigned high = static_cast<unsigned>(_mm_movemask_epi8(v));  // bytes >= 0x80
      // Signed: bytes >= 0x80 are negative, so "< 0x20" also finds every non-ASCII byte.
      __m128i hit = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
      unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
      if (mask == 0) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), v);
        out += 16;
        i += 16;
        continue;
      }
      if (high == 0 && i + 32 <= n) {
        // ASCII with a few escapes (JSON bodies have a quote every few bytes): the plain
        // runs between them are copied 16 bytes at a time (only the run's bytes count),
        // each escape from the table. With 32 bytes of src left, every 16-byte load stays
        // inside src, and every store inside the room of the bytes not yet consumed.
        size_t done = 0;
        for (unsigned m = mask; m != 0; m &= m - 1) {
          unsigned k = static_cast<unsigned>(__builtin_ctz(m));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + done)));
          out += k - done;
          uint8_t b = src[i + k];
          std::memcpy(out, &kEscapes.seq[b], 8);
          out += kEscapes.len[b];
          done = k + 1;
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + done)));
        out += 16 - done;
        i += 16;
        continue;
      }
      if (high == 0) {
        // ASCII with escapes near the end: each byte from the table, without a branch.
        for (int k = 0; k < 16; k++) {
          uint8_t b = src[i + k];
          std::memcpy(out, &kEscapes.seq[b], 8);
          out += kEscapes.len[b];
        }
        i += 16;
        continue;
      }
      unsigned plain = static_cast<unsigned>(__builtin_ctz(mask));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), v);
      out += plain;
      i += plain;
      break;
    }
#else
    while (i + 8 <= n) {
      uint64_t x;
      std::memcpy(&x, src + i, 8);
      if (AnySpecial(x)) break;
      std::memcpy(out, &x, 8);
      out += 8;
      i += 8;
    }
#endif
    while (i < n && !kTable.special[src[i]]) *out++ = src[i++];
    if (i >= n) break;
    uint8_t b = src[i];
    if (b < 0x80) {
      std::memcpy(out, &kEscapes.seq[b], kEscapes.len[b]);
      out += kEscapes.len[b];
      i++;
      continue;
    }
    // A multi-byte sequence: the Encoding Standard's UTF-8 decoder, one code point.
    size_t need;
    uint8_t lower = 0x80, upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b == 0xe0) lower = 0xa0;
      if (b == 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b == 0xf0) lower = 0x90;
      if (b == 0xf4) upper = 0x8f;
    } else {
      need = 0;  // not a lead byte
    }
    size_t j = i + 1;
    size_t seen = 0;
    if (need > 0) {
      while (seen < need && j < n) {
        uint8_t c = src[j];
        if (c < lower || c > upper) break;
        lower = 0x80;
        upper = 0xbf;
        seen++;
        j++;
      }
    }
    if (need > 0 && seen == need) {
      std::memcpy(out, src + i, need + 1);
      out += need + 1;
    } else {
      // The lead byte and the continuation bytes that fitted are one error; the byte that
      // broke the sequence (if any) is read again as the start of what follows.
      *out++ = 0xef;
      *out++ = 0xbf;
      *out++ = 0xbd;
    }
    i = j;
  }
  return static_cast<size_t>(out - dst);
}

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Writes src[0, n) in base64 with padding (Buffer#toString('base64')) at dst; returns the bytes written.
size_t Base64(const uint8_t* src, size_t n, uint8_t* dst) {
  uint8_t* out = dst;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t(src[i]) << 16) | (uint32_t(src[i + 1]) << 8) | src[i + 2];
    out[0] = kBase64[v >> 18];
    out[1] = kBase64[(v >> 12) & 63];
    out[2] = kBase64[(v >> 6) & 63];
    out[3] = kBase64[v & 63];
    out += 4;
  }
  if (i < n) {
    uint32_t v = uint32_t(src[i]) << 16;
    if (i + 1 < n) v |= uint32_t(src[i + 1]) << 8;
    out[0] = kBase64[v >> 18];
    out[1] = kBase64[(v >> 12) & 63];
    out[2] = i + 1 < n ? kBase64[(v >> 6) & 63] : '=';
    out[3] = '=';
    out += 4;
  }
  return static_cast<size_t>(out - dst);
}

napi_value Throw(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

bool BufferArg(napi_env env, napi_value v, uint8_t** data, size_t* length) {
  bool is = false;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return false;
  void* p = nullptr;
  if (napi_get_buffer_info(env, v, &p, length) != napi_ok) return false;
  *data = static_cast<uint8_t*>(p);
  return true;
}

// writeJsonText(src: Buffer, dst: Buffer, offset: number, base64: boolean): number
// Writes the JSON string body (no quotes) of src's UTF-8 text -- or of src in base64 --
// at dst[offset] and returns the offset after it. dst must have 6 * src.length bytes
// free from offset (base64 needs less: 4 per 3, rounded up).
napi_value WriteJsonText(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 4) {
    return Throw(env, "writeJsonText(src, dst, offset, base64): four arguments expected");
  }
  uint8_t *src = nullptr, *dst = nullptr;
  size_t srcLength = 0, dstLength = 0;
  if (!BufferArg(env, argv[0], &src, &srcLength)) return Throw(env, "writeJsonText: src must be a Buffer");
  if (!BufferArg(env, argv[1], &dst, &dstLength)) return Throw(env, "writeJsonText: dst must be a Buffer");
  double offset = 0;
  if (napi_get_value_double(env, argv[2], &offset) != napi_ok || !(offset >= 0) || offset > static_cast<double>(dstLength)) {
    return Throw(env, "writeJsonText: offset must be a number within dst");
  }
  bool base64 = false;
  if (napi_get_value_bool(env, argv[3], &base64) != napi_ok) return Throw(env, "writeJsonText: base64 must be a boolean");
  size_t at = static_cast<size_t>(offset);
  if ((dstLength - at) / 6 < srcLength) return Throw(env, "writeJsonText: dst needs 6 bytes free per byte of src");
  size_t written = base64 ? Base64(src, srcLength, dst + at) : Escape(src, srcLength, dst + at);
  napi_value result;
  napi_create_double(env, static_cast<double>(at + written), &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "writeJsonText", NAPI_AUTO_LENGTH, WriteJsonText, nullptr, &fn);
  napi_set_named_property(env, exports, "writeJsonText", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
