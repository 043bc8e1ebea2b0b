#include "common/security/tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include "absl/strings/str_cat.h"
#include "common/security/secrets.h"

namespace tunefleet::security {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsFiles& files,
                                                                          ClientCertificates client_certificates) {
  auto ca = ReadSmallFile(files.ca);
  if (!ca.ok()) return ca.status();
  auto cert = ReadSmallFile(files.certificate);
  if (!cert.ok()) return cert.status();
  auto key = ReadSmallFile(files.private_key);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(client_certificates == ClientCertificates::kRequired
                                                ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = *ca;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(const TlsFiles& files) {
  auto ca = ReadSmallFile(files.ca);
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = *ca;
  if (!files.certificate.empty()) {
    auto cert = ReadSmallFile(files.certificate);
    if (!cert.ok()) return cert.status();
    auto key = ReadSmallFile(files.private_key);
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  return grpc::SslCredentials(options);
}

namespace {

class BearerToken final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit BearerToken(std::string token) : header_("Bearer " + std::move(token)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
                           std::multimap<std::string, std::string>* metadata) override {
    metadata->emplace("authorization", header_);
    return grpc::Status::OK;
  }

 private:
  const std::string header_;
};

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> WithBearerToken(std::shared_ptr<grpc::ChannelCredentials> channel,
                                                          const std::string& token) {
  return grpc::CompositeChannelCredentials(
      channel, grpc::MetadataCredentialsFromPlugin(std::make_unique<BearerToken>(token)));
}

grpc::ChannelArguments ServerNameArguments(const std::string& server_name) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(server_name);
  return args;
}

absl::StatusOr<CertificateIdentity> PeerCertificate(const grpc::ServerContext& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return absl::NotFoundError("no client certificate");
  const auto pem = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pem.empty()) return absl::NotFoundError("no client certificate");
  return ReadIdentity(std::string(pem.front().data(), pem.front().size()));
}

bool IsLoopback(const std::string& host_port) {
  std::string host = host_port.substr(0, host_port.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace tunefleet::security
