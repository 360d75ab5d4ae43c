// fuzz-sources: modules/blobstate_xml.c
/* XML scanning for List Blobs answers (modules/blobstate_xml.c): elements stay inside the input,
 * the scan always advances, and unescaping never grows the text. */
#include "blobstate_xml.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size ? size : 1);
  if (!s) return 0;
  if (size) memcpy(s, data, size);
  static const char *const tags[] = {"Blob", "Name", "NextMarker", "Etag"};
  for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
    size_t pos = 0;
    const char *in;
    size_t il;
    int guard = 0;
    while (dh_xml_element(s, size, &pos, tags[t], &in, &il) == 0) {
      assert(in >= s && in + il <= s + size);
      assert(pos <= size);
      guard++;
      assert(guard <= (int)size + 1);
      char *out = malloc(il ? il : 1);
      if (!out) break;
      size_t n = dh_xml_unescape(in, il, out);
      assert(n <= il);
      free(out);
    }
  }
  free(s);
  return 0;
}
