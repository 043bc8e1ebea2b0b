// audit: the coordinator's audit log (admins only), newest first.

#include <iostream>

#include "cli/commands/commands.h"
#include "cli/output/resources.h"
#include "cli/output/structured.h"
#include "cli/output/table.h"

namespace tunefleet::cli {
namespace {

int Audit(const GlobalOptions& global, int limit, const std::string& output) {
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(output);
  if (!format.ok()) return ReportError(format.status());
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  v1::ListAuditEventsRequest request;
  request.set_limit(limit);
  v1::ListAuditEventsResponse response;
  auto context = (*connection)->UnaryContext();
  const grpc::Status status = (*connection)->admin().ListAuditEvents(context.get(), request, &response);
  if (!status.ok()) return ReportError(FromGrpc(status));
  switch (*format) {
    case OutputFormat::kTable: {
      Table table({"TIME", "WHO", "ROLE", "CALL", "TARGET", "RESULT"});
      for (const v1::AuditEvent& e : response.events()) {
        table.AddRow({FormatTime(e.time()), e.principal(), e.role(), e.method(), e.target().empty() ? "-" : e.target(),
                      e.code() == "OK" ? "OK" : e.code() + ": " + e.message()});
      }
      std::cout << table.Render();
      break;
    }
    case OutputFormat::kJson: std::cout << MessageToJson(response); break;
    case OutputFormat::kYaml: std::cout << JsonToYaml(MessageToJson(response)); break;
  }
  return kExitOk;
}

}  // namespace

void AddAuditCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto limit = std::make_shared<int>(50);
  auto output = std::make_shared<std::string>("table");
  CLI::App* audit = app.add_subcommand("audit", "Who did what, when, with what result (admins only)");
  audit->add_option("--limit", *limit, "How many events, newest first")->capture_default_str();
  audit->add_option("-o,--output", *output, "table, json or yaml")->capture_default_str();
  audit->callback([&, limit, output] { exit_code = Audit(global, *limit, *output); });
}

}  // namespace tunefleet::cli
