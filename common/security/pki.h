#pragma once
// A cluster's certificates, made with OpenSSL: a CA, and leaf certificates
// it signs for the coordinator, each worker (CN = the worker's id) and tests.
// EC P-256 keys, SHA-256 signatures; every leaf may serve and be a client.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tunefleet::security {

struct Pem {
  std::string certificate;
  std::string private_key;
};

// Organizational units: what kind of daemon a certificate speaks for. A
// worker certificate cannot call the worker log service (coordinator only),
// and a coordinator certificate cannot register as a worker.
inline constexpr char kWorkerUnit[] = "worker";
inline constexpr char kCoordinatorUnit[] = "coordinator";

struct CertificateRequest {
  std::string common_name;
  std::string unit;  // OU
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  absl::Time not_before = absl::Now() - absl::Hours(1);  // tolerate small clock skew
  absl::Time not_after = absl::Now() + absl::Hours(24 * 365);
};

absl::StatusOr<Pem> CreateAuthority(const std::string& common_name, absl::Time not_before = absl::Now() - absl::Hours(1),
                                    absl::Time not_after = absl::Now() + absl::Hours(24 * 3650));
absl::StatusOr<Pem> IssueCertificate(const Pem& authority, const CertificateRequest& request);

struct CertificateIdentity {
  std::string common_name;
  std::string unit;
  std::string fingerprint;  // SHA-256 of the PEM: tells two certificates for one name apart
};
// The subject of a PEM certificate (as gRPC hands the peer's to a server).
absl::StatusOr<CertificateIdentity> ReadIdentity(const std::string& certificate_pem);

}  // namespace tunefleet::security
