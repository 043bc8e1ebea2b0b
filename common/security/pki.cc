#include "common/security/pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/security/secrets.h"

namespace tunefleet::security {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

absl::Status OpenSslError(const std::string& what) {
  const unsigned long code = ERR_get_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  return absl::InternalError(absl::StrCat(what, ": ", text));
}

absl::StatusOr<std::string> ToPem(X509* cert, EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  const int ok = cert ? PEM_write_bio_X509(bio.get(), cert)
                      : PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  if (!ok) return OpenSslError("writing PEM");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return OpenSslError(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok ? absl::OkStatus() : OpenSslError("adding an extension");
}

// A certificate for `key` with `subject`, to be signed by `issuer` (itself when null).
absl::StatusOr<Cert> NewCertificate(EVP_PKEY* key, const std::string& common_name, const std::string& unit,
                                    absl::Time not_before, absl::Time not_after) {
  Cert cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), 2)) return OpenSslError("X509_new");
  // A random 127-bit serial (RFC 5280: positive, at most 20 octets).
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> serial(BN_new());
  if (!serial || !BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    return OpenSslError("serial number");
  }
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(not_before)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_after))) {
    return OpenSslError("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add = [&](const char* field, const std::string& value) {
    return value.empty() || X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                                       reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                                       0);
  };
  if (!add("O", "tunefleet") || !add("OU", unit) || !add("CN", common_name)) return OpenSslError("subject");
  if (!X509_set_pubkey(cert.get(), key)) return OpenSslError("public key");
  return cert;
}

absl::StatusOr<Pem> Finish(X509* cert, EVP_PKEY* key, EVP_PKEY* signer) {
  if (!X509_sign(cert, signer, EVP_sha256())) return OpenSslError("signing");
  auto cert_pem = ToPem(cert, nullptr);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = ToPem(nullptr, key);
  if (!key_pem.ok()) return key_pem.status();
  return Pem{*std::move(cert_pem), *std::move(key_pem)};
}

absl::StatusOr<Cert> ParseCertificate(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError("reading a PEM certificate");
  return cert;
}

std::string NameField(X509_NAME* name, int nid) {
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return "";
  std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return value;
}

}  // namespace

absl::StatusOr<Pem> CreateAuthority(const std::string& common_name, absl::Time not_before, absl::Time not_after) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generating the CA key");
  auto cert = NewCertificate(key.get(), common_name, "ca", not_before, not_after);
  if (!cert.ok()) return cert.status();
  X509_set_issuer_name(cert->get(), X509_get_subject_name(cert->get()));
  for (const auto& [nid, value] : {std::pair<int, std::string>{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                                   {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                   {NID_subject_key_identifier, "hash"}}) {
    if (auto s = AddExtension(cert->get(), cert->get(), nid, value); !s.ok()) return s;
  }
  return Finish(cert->get(), key.get(), key.get());
}

absl::StatusOr<Pem> IssueCertificate(const Pem& authority, const CertificateRequest& request) {
  auto ca = ParseCertificate(authority.certificate);
  if (!ca.ok()) return ca.status();
  Bio key_bio(BIO_new_mem_buf(authority.private_key.data(), static_cast<int>(authority.private_key.size())));
  Key ca_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_key) return OpenSslError("reading the CA key");
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generating a key");
  auto cert = NewCertificate(key.get(), request.common_name, request.unit, request.not_before, request.not_after);
  if (!cert.ok()) return cert.status();
  X509_set_issuer_name(cert->get(), X509_get_subject_name(ca->get()));
  std::vector<std::string> names;
  for (const auto& dns : request.dns_names) names.push_back("DNS:" + dns);
  for (const auto& ip : request.ip_addresses) names.push_back("IP:" + ip);
  std::vector<std::pair<int, std::string>> extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_authority_key_identifier, "keyid"}};
  if (!names.empty()) extensions.emplace_back(NID_subject_alt_name, absl::StrJoin(names, ","));
  for (const auto& [nid, value] : extensions) {
    if (auto s = AddExtension(cert->get(), ca->get(), nid, value); !s.ok()) return s;
  }
  return Finish(cert->get(), key.get(), ca_key.get());
}

absl::StatusOr<CertificateIdentity> ReadIdentity(const std::string& certificate_pem) {
  auto cert = ParseCertificate(certificate_pem);
  if (!cert.ok()) return cert.status();
  X509_NAME* subject = X509_get_subject_name(cert->get());
  return CertificateIdentity{NameField(subject, NID_commonName), NameField(subject, NID_organizationalUnitName),
                             Sha256Hex(certificate_pem)};
}

}  // namespace tunefleet::security
