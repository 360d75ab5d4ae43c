/* Minimal XML scanning for Blob service answers (List Blobs, errors). No allocation; fuzzed by
 * spec/fuzz/fuzz_blob_xml.c. */
#ifndef DH_BLOBSTATE_XML_H
#define DH_BLOBSTATE_XML_H
#include <stddef.h>

/* Finds the next element <tag ...>inner</tag> (or <tag/>) at or after *pos in s[0..len). On success
 * sets inner/inner_len (raw, still escaped), moves *pos past the element and returns 0; returns -1
 * when there is none. Nested elements of the same name are not supported (not used by the Blob
 * service). */
int dh_xml_element(const char *s, size_t len, size_t *pos, const char *tag, const char **inner,
                   size_t *inner_len);

/* Decodes the five XML entities and numeric character references (&#N; &#xN;, as UTF-8) into out,
 * which must hold len bytes (decoding never grows the text); unknown or invalid references are
 * copied as they are. Returns the decoded length (out is not NUL-terminated). */
size_t dh_xml_unescape(const char *s, size_t len, char *out);
#endif
