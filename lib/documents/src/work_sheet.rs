//! The batch work sheet: what an engineer takes out on a round, one row per job.
//!
//! A4 landscape, in Russian. The first page opens with the title (batch, work type by its
//! name, engineer, when it was taken, how many jobs); then a table — №, customer, address
//! (area and the site's contact), service (code and name), quantity with unit, requested date, note, and two
//! columns the engineer fills in by hand: the actual quantity, and done or not (with why) —
//! whose header row is repeated on every page. Long cells wrap; a row goes whole onto the next page unless it is
//! taller than a page, when it continues there. Every page ends with "Страница N из M"; the
//! sheet ends with a line for the engineer's signature and the date.

use chrono::{NaiveDate, NaiveDateTime};

use crate::Error;
use crate::font::{Font, Style};
use crate::layout::{Page, wrap};
use crate::pdf;

/// A batch's work sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkSheet {
    pub batch_id: String,
    pub work_type: String,
    /// The engineer as printed (name, id or both).
    pub engineer: String,
    /// When the batch was taken, on the provider's clock.
    pub taken_at: NaiveDateTime,
    /// The provider's time zone, printed beside the time (`Europe/Moscow`).
    pub time_zone: String,
    /// In the batch's order.
    pub rows: Vec<SheetRow>,
}

/// One job of the sheet. The CSV sheet prints every field; the PDF the ones a person reads.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    pub work_order: String,
    /// The customer's legal name (empty when unknown).
    pub customer: String,
    pub address: String,
    pub area: Option<String>,
    /// Who lets the engineer in, and how to reach them.
    pub contact: Option<String>,
    /// The service code.
    pub service: String,
    /// The service name in the sheet's language.
    pub service_name: String,
    /// The quantity as written (a decimal number).
    pub quantity: String,
    /// The unit's code (`piece`, `hour`, …).
    pub unit: String,
    /// The unit as printed (`шт`, `ч`, …).
    pub unit_label: String,
    pub requested_date: NaiveDate,
    pub note: Option<String>,
    /// The job's state within the batch (`open`, `done`, `failed`, `released`).
    pub status: String,
}

impl WorkSheet {
    /// The sheet as a PDF file.
    pub fn to_pdf(&self) -> Result<Vec<u8>, Error> {
        let fonts = Font::load_all()?;
        let pages = self.layout(&fonts);
        pdf::write(&pages, PAGE, &self.title(), &fonts)
    }

    fn title(&self) -> String {
        format!("Рабочий лист партии {}", self.batch_id)
    }

    fn layout(&self, fonts: &[Font; 2]) -> Vec<Page> {
        let mut table = Table::new(fonts);
        table.title(self);
        table.header();
        for (i, row) in self.rows.iter().enumerate() {
            let cells = table.cells(i + 1, row);
            table.row(&cells);
        }
        table.signature();
        table.finish(&self.title())
    }
}

/// A4 landscape, in points.
const PAGE: pdf::Size = (841.89, 595.28);
const MARGIN: f32 = 36.0;
/// The lowest a table row may reach; the footer sits below.
const BOTTOM: f32 = 48.0;
const FOOTER_Y: f32 = 26.0;
const SIZE: f32 = 8.5;
const LEADING: f32 = 10.5;
const PAD_X: f32 = 3.5;
const PAD_Y: f32 = 3.0;
const RULE: f32 = 0.5;
const HEADER_GRAY: f32 = 0.88;
const SECONDARY_GRAY: f32 = 0.35;
/// A row taller than what is left of a page is split there only if this many lines fit.
const MIN_SPLIT: usize = 4;
/// Room the signature block needs below the table.
const SIGNATURE_HEIGHT: f32 = 60.0;

struct Column {
    title: &'static str,
    /// `None`: the rest of the table's width.
    width: Option<f32>,
    right: bool,
}

impl Column {
    const fn new(title: &'static str, width: Option<f32>, right: bool) -> Self {
        Self {
            title,
            width,
            right,
        }
    }
}

const COLUMNS: [Column; 9] = [
    Column::new("№", Some(22.0), true),
    Column::new("Клиент", Some(118.0), false),
    Column::new("Адрес", Some(150.0), false),
    Column::new("Услуга", Some(128.0), false),
    Column::new("Количество", Some(60.0), true),
    Column::new("Дата", Some(52.0), false),
    Column::new("Примечание", None, false),
    // Filled in by hand on the round: the quantity done, and done or not (with why).
    Column::new("Факт. кол-во", Some(52.0), true),
    Column::new("Выполнено: да / нет (причина)", Some(92.0), false),
];

/// A line of a cell.
struct Line {
    text: String,
    style: Style,
    gray: f32,
}

type Cells = Vec<Vec<Line>>;

/// A work type as the sheet names it: the common ones in Russian, any other by its code.
pub fn work_type_name(code: &str) -> &str {
    match code {
        "installation" | "install" => "Монтаж и подключение",
        "maintenance" => "Обслуживание",
        "delivery" => "Доставка",
        "repair" => "Ремонт",
        "inspection" => "Осмотр",
        "cleaning" => "Уборка",
        other => other,
    }
}

fn status_label(status: &str) -> Option<&str> {
    match status {
        "open" => None,
        "done" => Some("Выполнено"),
        "failed" => Some("Не выполнено"),
        "released" => Some("Возвращено в очередь"),
        other => Some(other),
    }
}

/// Lays the sheet out page by page; `y` is where the next thing goes on the current page.
struct Table<'a> {
    fonts: &'a [Font; 2],
    pages: Vec<Page>,
    y: f32,
    rows_on_page: usize,
    widths: [f32; 9],
}

impl<'a> Table<'a> {
    fn new(fonts: &'a [Font; 2]) -> Self {
        let fixed: f32 = COLUMNS.iter().filter_map(|c| c.width).sum();
        let rest = PAGE.0 - 2.0 * MARGIN - fixed;
        Self {
            fonts,
            pages: vec![Page::default()],
            y: PAGE.1 - MARGIN,
            rows_on_page: 0,
            widths: COLUMNS.map(|c| c.width.unwrap_or(rest)),
        }
    }

    fn font(&self, style: Style) -> &'a Font {
        &self.fonts[style.index()]
    }

    fn page(&mut self) -> &mut Page {
        self.pages.last_mut().expect("a table has a page")
    }

    fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = PAGE.1 - MARGIN;
        self.rows_on_page = 0;
    }

    /// Wrapped lines of `text` for column `column`.
    fn lines(&self, column: usize, text: &str, style: Style, gray: f32) -> Vec<Line> {
        let width = self.widths[column] - 2.0 * PAD_X;
        wrap(self.font(style), SIZE, text, width)
            .into_iter()
            .map(|text| Line { text, style, gray })
            .collect()
    }

    fn title(&mut self, sheet: &WorkSheet) {
        let size = 15.0;
        self.y -= size;
        let y = self.y;
        self.page()
            .text(Style::Bold, size, MARGIN, y, "Рабочий лист");
        self.y -= 8.0;
        let facts = format!(
            "Партия: {} · Вид работ: {} · Инженер: {} · Взята: {} ({}) · Работ: {}",
            sheet.batch_id,
            work_type_name(&sheet.work_type),
            sheet.engineer,
            sheet.taken_at.format("%d.%m.%Y %H:%M"),
            sheet.time_zone,
            sheet.rows.len()
        );
        let size = 9.5;
        for line in wrap(
            self.font(Style::Regular),
            size,
            &facts,
            PAGE.0 - 2.0 * MARGIN,
        ) {
            self.y -= size * 1.3;
            let y = self.y;
            self.page().text(Style::Regular, size, MARGIN, y, &line);
        }
        self.y -= 10.0;
    }

    fn header(&mut self) {
        let cells: Cells = COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| self.lines(i, c.title, Style::Bold, 0.0))
            .collect();
        let height = self.height(&cells, 0, usize::MAX);
        let y = self.y;
        self.page().fill(
            (MARGIN, y - height),
            (PAGE.0 - 2.0 * MARGIN, height),
            HEADER_GRAY,
        );
        self.draw(&cells, 0, usize::MAX);
    }

    fn cells(&self, number: usize, row: &SheetRow) -> Cells {
        let mut address = self.lines(2, &row.address, Style::Regular, 0.0);
        if let Some(area) = &row.area {
            address.extend(self.lines(2, &format!("({area})"), Style::Regular, SECONDARY_GRAY));
        }
        if let Some(contact) = &row.contact {
            address.extend(self.lines(2, &format!("Контакт: {contact}"), Style::Regular, 0.0));
        }
        let mut service = self.lines(3, &row.service, Style::Bold, 0.0);
        service.extend(self.lines(3, &row.service_name, Style::Regular, 0.0));
        let mut note = self.lines(
            6,
            row.note.as_deref().unwrap_or_default(),
            Style::Regular,
            0.0,
        );
        if let Some(status) = status_label(&row.status) {
            note.extend(self.lines(6, status, Style::Bold, 0.0));
        }
        vec![
            self.lines(0, &number.to_string(), Style::Regular, 0.0),
            self.lines(1, &row.customer, Style::Regular, 0.0),
            address,
            service,
            self.lines(
                4,
                &format!("{} {}", row.quantity, row.unit_label),
                Style::Regular,
                0.0,
            ),
            self.lines(
                5,
                &row.requested_date.format("%d.%m.%Y").to_string(),
                Style::Regular,
                0.0,
            ),
            note,
            Vec::new(),
            Vec::new(),
        ]
    }

    /// How many lines of a row fit on the rest of this page.
    fn fitting_lines(&self) -> usize {
        let room = (self.y - BOTTOM - 2.0 * PAD_Y) / LEADING;
        if room < 1.0 { 0 } else { room as usize }
    }

    fn height(&self, cells: &Cells, from: usize, count: usize) -> f32 {
        let lines = cells
            .iter()
            .map(|c| c.len().saturating_sub(from).min(count))
            .max()
            .unwrap_or(0)
            .max(1);
        lines as f32 * LEADING + 2.0 * PAD_Y
    }

    fn row(&mut self, cells: &Cells) {
        let total = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut from = 0;
        while from < total {
            let left = total - from;
            let fits = self.fitting_lines();
            let fits_a_fresh_page = left <= self.fresh_page_lines();
            if left > fits && self.rows_on_page > 0 && (fits_a_fresh_page || fits < MIN_SPLIT) {
                self.continue_table();
                continue;
            }
            let take = left.min(fits.max(1));
            self.draw(cells, from, take);
            self.rows_on_page += 1;
            from += take;
            if from < total {
                self.continue_table();
            }
        }
    }

    /// How many lines of a row fit on a new page under the header row.
    fn fresh_page_lines(&self) -> usize {
        let header = LEADING + 2.0 * PAD_Y;
        let room = (PAGE.1 - MARGIN - header - BOTTOM - 2.0 * PAD_Y) / LEADING;
        room as usize
    }

    fn continue_table(&mut self) {
        self.new_page();
        self.header();
    }

    /// Draws lines `from..from + count` of `cells` as one table row below `y`.
    fn draw(&mut self, cells: &Cells, from: usize, count: usize) {
        let height = self.height(cells, from, count);
        let top = self.y;
        let bottom = top - height;
        let (ascent, descent) = self.font(Style::Regular).extent();
        let baseline = (LEADING - (ascent + descent) * SIZE) / 2.0 + ascent * SIZE;
        let mut texts = Vec::new();
        let mut x = MARGIN;
        for ((cell, width), column) in cells.iter().zip(self.widths).zip(&COLUMNS) {
            for (i, line) in cell.iter().skip(from).take(count).enumerate() {
                let left = if column.right {
                    x + width - PAD_X - self.font(line.style).width(&line.text, SIZE)
                } else {
                    x + PAD_X
                };
                let y = top - PAD_Y - baseline - i as f32 * LEADING;
                texts.push((line.style, (left, y), line.gray, line.text.as_str()));
            }
            x += width;
        }
        let widths = self.widths;
        let page = self.page();
        for (style, at, gray, text) in texts {
            page.gray_text(style, SIZE, at, gray, text);
        }
        let right = PAGE.0 - MARGIN;
        page.line((MARGIN, top), (right, top), RULE);
        page.line((MARGIN, bottom), (right, bottom), RULE);
        let mut x = MARGIN;
        page.line((x, top), (x, bottom), RULE);
        for width in widths {
            x += width;
            page.line((x, top), (x, bottom), RULE);
        }
        self.y = bottom;
    }

    fn signature(&mut self) {
        if self.y - SIGNATURE_HEIGHT < BOTTOM {
            self.new_page();
        }
        self.y -= 36.0;
        let y = self.y;
        let label = "Работы выполнил:";
        let font = self.font(Style::Regular);
        let label_width = font.width(label, 10.0);
        let caption_width = |text: &str| font.width(text, 7.0);
        let blanks = [
            (MARGIN + label_width + 10.0, 190.0, "подпись"),
            (MARGIN + label_width + 220.0, 220.0, "фамилия, инициалы"),
            (MARGIN + label_width + 500.0, 110.0, "дата"),
        ];
        let page = self.pages.last_mut().expect("a table has a page");
        page.text(Style::Regular, 10.0, MARGIN, y, label);
        for (x, width, caption) in blanks {
            page.line((x, y - 2.0), (x + width, y - 2.0), RULE);
            let at = (x + (width - caption_width(caption)) / 2.0, y - 11.0);
            page.gray_text(Style::Regular, 7.0, at, SECONDARY_GRAY, caption);
        }
    }

    /// The pages with their footers.
    fn finish(mut self, title: &str) -> Vec<Page> {
        let count = self.pages.len();
        let font = self.font(Style::Regular);
        for (i, page) in self.pages.iter_mut().enumerate() {
            let number = format!("Страница {} из {count}", i + 1);
            let right = PAGE.0 - MARGIN - font.width(&number, 7.5);
            page.gray_text(
                Style::Regular,
                7.5,
                (MARGIN, FOOTER_Y),
                SECONDARY_GRAY,
                title,
            );
            page.gray_text(
                Style::Regular,
                7.5,
                (right, FOOTER_Y),
                SECONDARY_GRAY,
                &number,
            );
        }
        self.pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Op;

    fn row(i: usize) -> SheetRow {
        SheetRow {
            work_order: format!("wo_{i}"),
            customer: "ООО «Ромашка»".to_owned(),
            address: "Москва, ул. Тверская, 7, офис 12".to_owned(),
            area: Some("moscow-centre".to_owned()),
            // Only the first job names a contact: the others keep two lines each.
            contact: (i == 1).then(|| "Пётр Иванов, +7 916 000-00-00".to_owned()),
            service: "ROUTER-SETUP".to_owned(),
            service_name: "Настройка роутера".to_owned(),
            quantity: "2".to_owned(),
            unit: "piece".to_owned(),
            unit_label: "шт".to_owned(),
            requested_date: NaiveDate::from_ymd_opt(2025, 6, 2).unwrap(),
            note: Some("Домофон 12, звонить заранее".to_owned()),
            status: "open".to_owned(),
        }
    }

    pub(crate) fn sheet(rows: usize) -> WorkSheet {
        WorkSheet {
            batch_id: "bat_01JXKQ3S8ZB4Y5V9R7T2W6M1NC".to_owned(),
            work_type: "install".to_owned(),
            engineer: "Иван Петров (usr_01JXKQ3S8ZB4Y5V9R7T2W6M1ND)".to_owned(),
            taken_at: chrono::DateTime::from_timestamp(1_748_851_200 + 3 * 3600, 0)
                .unwrap()
                .naive_utc(),
            time_zone: "Europe/Moscow".to_owned(),
            rows: (1..=rows).map(row).collect(),
        }
    }

    fn pdf(sheet: &WorkSheet) -> (Vec<u8>, lopdf::Document) {
        let bytes = sheet.to_pdf().expect("a sheet renders");
        let doc = lopdf::Document::load_mem(&bytes).expect("the output parses as PDF");
        (bytes, doc)
    }

    fn page_text(doc: &lopdf::Document, page: u32) -> String {
        doc.extract_text(&[page]).expect("text extracts")
    }

    #[test]
    fn one_row_is_one_page_with_the_job_in_cyrillic() {
        let (bytes, doc) = pdf(&sheet(1));
        assert!(bytes.starts_with(b"%PDF-"));
        assert_eq!(doc.get_pages().len(), 1);
        let text = page_text(&doc, 1);
        for expected in [
            "Рабочий лист",
            "bat_01JXKQ3S8ZB4Y5V9R7T2W6M1NC",
            "Иван Петров",
            // The provider's clock, not UTC (08:00 UTC); the zone may wrap to the next line.
            "Взята: 02.06.2025 11:00",
            "(Europe/Moscow)",
            "ООО «Ромашка»",
            "Москва, ул. Тверская, 7, офис 12",
            "(moscow-centre)",
            "Контакт: Пётр Иванов, +7 916 000-00-00",
            "ROUTER-SETUP",
            "Настройка роутера",
            "2 шт",
            "02.06.2025",
            "Домофон 12, звонить заранее",
            "Работы выполнил:",
            "Страница 1 из 1",
            "Вид работ: Монтаж и подключение",
            "Факт. кол-во",
            "Выполнено: да / нет (причина)",
        ] {
            // Cells wrap where the layout does: compare the words in order.
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains(expected), "{expected:?} not in {text:?}");
        }
    }

    #[test]
    fn many_rows_flow_onto_pages_each_with_the_header_row_and_its_number() {
        let (_, doc) = pdf(&sheet(200));
        let pages = doc.get_pages().len();
        // 16 two-line rows fit under the title, 18 on every further page: 16 + 10 × 18 = 196.
        assert_eq!(pages, 12);
        for page in 1..=pages {
            let text = page_text(&doc, u32::try_from(page).unwrap());
            assert!(
                text.contains("Примечание"),
                "page {page} repeats the header row"
            );
            assert!(
                text.contains(&format!("Страница {page} из {pages}")),
                "{text}"
            );
        }
        let last = page_text(&doc, u32::try_from(pages).unwrap());
        assert!(last.contains("200") && last.contains("Работы выполнил:"));
    }

    #[test]
    fn the_font_is_embedded_once_per_weight_and_subsetted() {
        let (bytes, doc) = pdf(&sheet(50));
        let files: Vec<_> = doc
            .objects
            .values()
            .filter_map(|o| o.as_dict().ok())
            .filter(|d| d.has(b"FontFile2"))
            .collect();
        assert_eq!(files.len(), 2, "regular and bold");
        for descriptor in files {
            let name = descriptor.get(b"FontName").unwrap().as_name().unwrap();
            let name = String::from_utf8_lossy(name);
            assert!(name.contains("+DejaVuSansCondensed"), "a subset: {name}");
        }
        // The full faces are about 650 KB each; a subset of the glyphs drawn is a few.
        assert!(bytes.len() < 80_000, "{} bytes", bytes.len());
    }

    #[test]
    fn a_note_taller_than_a_page_continues_on_the_next() {
        let mut sheet = sheet(3);
        sheet.rows[1].note = Some("очень длинное примечание ".repeat(300));
        let fonts = Font::load_all().unwrap();
        let pages = sheet.layout(&fonts);
        assert!(pages.len() >= 3, "{} pages", pages.len());
        for page in &pages {
            let lowest = page
                .ops
                .iter()
                .filter_map(|op| match op {
                    Op::Text { y, .. } if *y > FOOTER_Y => Some(*y),
                    _ => None,
                })
                .fold(f32::MAX, f32::min);
            assert!(lowest >= BOTTOM, "text at {lowest} runs into the footer");
        }
        let (_, doc) = pdf(&sheet);
        assert_eq!(doc.get_pages().len(), pages.len());
    }

    #[test]
    fn jobs_no_longer_open_say_so_and_an_empty_batch_still_renders() {
        let mut sheet = sheet(2);
        sheet.rows[1].status = "released".to_owned();
        let (_, doc) = pdf(&sheet);
        let flat = page_text(&doc, 1)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(flat.contains("Возвращено в очередь"), "{flat}");
        let (_, empty) = pdf(&super::tests::sheet(0));
        assert_eq!(empty.get_pages().len(), 1);
    }

    #[test]
    fn work_types_are_named_in_russian_and_unknown_ones_by_their_code() {
        assert_eq!(work_type_name("delivery"), "Доставка");
        assert_eq!(work_type_name("installation"), "Монтаж и подключение");
        assert_eq!(work_type_name("bench-close"), "bench-close");
    }

    #[test]
    fn the_same_sheet_gives_the_same_bytes() {
        assert_eq!(sheet(5).to_pdf().unwrap(), sheet(5).to_pdf().unwrap());
    }
}
