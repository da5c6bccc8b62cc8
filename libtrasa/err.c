/* err.c: text for libtrasa error codes. */
#include "err.h"

const char *
trasa_strerror(int err)
{
	switch (err) {
	case TRASA_OK: return "success";
	case TRASA_ERR_INTERNAL: return "internal error";
	case TRASA_ERR_ALLOC: return "out of memory";
	case TRASA_ERR_TRUNCATED: return "data is truncated";
	case TRASA_ERR_TOO_LONG: return "field is longer than allowed";
	case TRASA_ERR_TRAILING: return "unexpected trailing data";
	case TRASA_ERR_FORMAT: return "invalid format";
	case TRASA_ERR_STRING_NUL: return "string contains a NUL byte";
	case TRASA_ERR_KEY_TYPE: return "unknown or unsupported key type";
	case TRASA_ERR_KEY_TOO_SMALL: return "RSA key is smaller than 2048 bits";
	case TRASA_ERR_BAD_KEY: return "invalid key material";
	case TRASA_ERR_SIG_ALG: return "signature algorithm not allowed";
	case TRASA_ERR_BAD_SIGNATURE: return "bad signature";
	case TRASA_ERR_CERT_TYPE: return "wrong certificate type";
	case TRASA_ERR_EXPIRED: return "certificate has expired";
	case TRASA_ERR_NOT_YET_VALID: return "certificate is not yet valid";
	case TRASA_ERR_UNKNOWN_CA: return "certificate is signed by an unknown CA";
	case TRASA_ERR_PRINCIPAL: return "principal not listed in certificate";
	case TRASA_ERR_NO_PRINCIPALS: return "certificate lists no principals";
	case TRASA_ERR_CRITICAL_OPTION: return "unsupported critical option";
	case TRASA_ERR_REVOKED: return "key or certificate is revoked";
	case TRASA_ERR_CA_IS_CERT: return "CA key is itself a certificate";
	case TRASA_ERR_NOT_CERT: return "key is not a certificate";
	case TRASA_ERR_IO: return "I/O error";
	case TRASA_ERR_FILE_PERM: return "file is not safely owned or has unsafe permissions";
	case TRASA_ERR_INVALID_ARG: return "invalid argument";
	case TRASA_ERR_ENCRYPTED: return "key is encrypted and no passphrase was given";
	case TRASA_ERR_PASSPHRASE: return "wrong passphrase";
	case TRASA_ERR_OPTION_ORDER: return "options are duplicated or not sorted";
	case TRASA_ERR_SOURCE_ADDRESS: return "source address not permitted";
	case TRASA_ERR_KEY_MISMATCH: return "private and public key do not match";
	case TRASA_ERR_CRYPTO: return "cryptographic library error";
	case TRASA_ERR_EXISTS: return "file already exists";
	case TRASA_ERR_TOO_MANY: return "too many entries";
	case TRASA_ERR_BAD_VALIDITY: return "invalid validity interval";
	case TRASA_ERR_UNSUPPORTED: return "unsupported feature";
	case TRASA_ERR_NOT_FOUND: return "not found";
	}
	return "unknown error";
}
