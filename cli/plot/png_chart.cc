// The chart as a PNG: a white canvas, a frame, grid lines, tick labels, axis
// names and a legend in a small bitmap font, and the two series drawn as
// anti-aliasing-free lines (Bresenham). The title is only in the SVG.

#include <algorithm>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/plot/bitmap_font.h"
#include "cli/plot/chart.h"
#include "cli/plot/chart_layout.h"

#ifdef TUNEFLEET_CLI_HAVE_PNG
#include <png.h>
#endif

namespace tunefleet::cli {

#ifdef TUNEFLEET_CLI_HAVE_PNG
namespace {

struct Canvas {
  int w, h;
  std::vector<unsigned char> rgb;
  Canvas(int width, int height) : w(width), h(height), rgb(static_cast<size_t>(width * height * 3), 255) {}
  void Dot(int x, int y, unsigned color, int size = 1) {
    for (int dx = -size / 2; dx <= size / 2; ++dx) {
      for (int dy = -size / 2; dy <= size / 2; ++dy) {
        const int px = x + dx, py = y + dy;
        if (px < 0 || py < 0 || px >= w || py >= h) continue;
        unsigned char* p = &rgb[static_cast<size_t>((py * w + px) * 3)];
        p[0] = static_cast<unsigned char>(color >> 16);
        p[1] = static_cast<unsigned char>(color >> 8);
        p[2] = static_cast<unsigned char>(color);
      }
    }
  }
  void Line(double x0d, double y0d, double x1d, double y1d, unsigned color, int size = 1) {
    int x0 = static_cast<int>(x0d), y0 = static_cast<int>(y0d);
    const int x1 = static_cast<int>(x1d), y1 = static_cast<int>(y1d);
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    while (true) {
      Dot(x0, y0, color, size);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  // `text` with its top-left at (x, y), at twice the font's size.
  void Text(const std::string& text, double x, double y, unsigned color) {
    DrawText(text, static_cast<int>(x), static_cast<int>(y), 2, [&](int px, int py) { Dot(px, py, color); });
  }
};

constexpr int kGlyphHeight = 14;  // the font's 7 rows at scale 2

void DrawLabels(Canvas& canvas, const ChartLayout& c) {
  for (int i = 0; i <= 5; ++i) {  // the SVG's ticks: %.3g losses, whole steps
    const double loss = c.loss_min + (c.loss_max - c.loss_min) * i / 5;
    const double step = static_cast<double>(c.step_min) + static_cast<double>(c.step_max - c.step_min) * i / 5;
    const std::string loss_text = absl::StrFormat("%.3g", loss), step_text = absl::StrFormat("%.0f", step);
    canvas.Text(loss_text, c.left - 6 - TextWidth(loss_text, 2), c.Y(loss) - kGlyphHeight / 2.0, 0x333333);
    const double centred = c.X(step) - TextWidth(step_text, 2) / 2.0;  // kept inside the canvas
    canvas.Text(step_text, std::min(centred, c.width - TextWidth(step_text, 2) - 2), c.height - c.bottom + 6, 0x333333);
  }
  canvas.Text("step", (c.left + c.width - c.right - TextWidth("step", 2)) / 2, c.height - kGlyphHeight - 4, 0x333333);
  canvas.Text("loss", 4, 8, 0x333333);
  canvas.Text("train loss", c.width - 260, 12, 0x1f77b4);
  canvas.Text("eval loss", c.width - 120, 12, 0xd62728);
}

void DrawSeries(Canvas& canvas, const ChartLayout& c, const std::map<int64_t, double>& points, unsigned color) {
  const std::pair<const int64_t, double>* previous = nullptr;
  for (const auto& point : points) {
    if (previous) {
      canvas.Line(c.X(previous->first), c.Y(previous->second), c.X(point.first), c.Y(point.second), color, 2);
    }
    if (points.size() <= 30) canvas.Dot(static_cast<int>(c.X(point.first)), static_cast<int>(c.Y(point.second)), color, 5);
    previous = &point;
  }
}

}  // namespace

absl::Status WritePng(const LossSeries& series, const std::string& path) {
  const ChartLayout c(series);
  Canvas canvas(static_cast<int>(c.width), static_cast<int>(c.height));
  for (int i = 1; i < 5; ++i) {
    const double y = c.top + (c.height - c.top - c.bottom) * i / 5;
    canvas.Line(c.left, y, c.width - c.right, y, 0xdddddd);
  }
  const double x0 = c.left, x1 = c.width - c.right, y0 = c.top, y1 = c.height - c.bottom;
  canvas.Line(x0, y0, x1, y0, 0x333333);
  canvas.Line(x0, y1, x1, y1, 0x333333);
  canvas.Line(x0, y0, x0, y1, 0x333333);
  canvas.Line(x1, y0, x1, y1, 0x333333);
  DrawSeries(canvas, c, series.train, 0x1f77b4);
  DrawSeries(canvas, c, series.eval, 0xd62728);
  size_t index = 0;
  for (const auto& [name, points] : series.task_train) {  // multi-task: one colour per task
    DrawSeries(canvas, c, points, TaskColor(index));
    if (auto eval = series.task_eval.find(name); eval != series.task_eval.end()) {
      DrawSeries(canvas, c, eval->second, TaskColor(index));
    }
    canvas.Text(name, c.width - c.right - 6 - TextWidth(name, 2), c.top + 6 + 12.0 * static_cast<double>(index),
                TaskColor(index));
    ++index;
  }
  DrawLabels(canvas, c);

  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {  // libpng reports errors by longjmp
    png_destroy_write_struct(&png, &info);
    std::fclose(file);
    return absl::InternalError(absl::StrCat("libpng failed writing ", path));
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(canvas.w), static_cast<png_uint_32>(canvas.h), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < canvas.h; ++y) png_write_row(png, &canvas.rgb[static_cast<size_t>(y * canvas.w * 3)]);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return std::fclose(file) == 0 ? absl::OkStatus() : absl::UnavailableError(absl::StrCat("cannot write ", path));
}

#else

absl::Status WritePng(const LossSeries&, const std::string&) {
  return absl::UnimplementedError("this tunefleet was built without libpng; write an .svg instead");
}

#endif

}  // namespace tunefleet::cli
