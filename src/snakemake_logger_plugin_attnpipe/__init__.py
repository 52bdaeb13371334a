"""`snakemake --logger attnpipe` (set in profiles/default): a sweep you can watch.

snakemake-logger-plugin-rich as it is (a live bar per rule, its running jobs, job blocks quiet), with:
- done/total and the time left on every bar (Rich's MofNCompleteColumn; a rule's time left is Rich's estimate
  from its own finished jobs, the sweep's the sum over the rules still to finish, since a render takes
  a thousand times a numeric job: unknown until every rule with jobs left has finished two);
- on a non-terminal (CI, a pipe, a test), where Rich draws no bars, one plain line per finished job:
  "N of M steps (x%) done: rule wildcards, about T left";
- a failed job reported by Snakemake's own formatter ("Error in rule ...", its input, output and log files);
- Snakemake's own output for a dry run (the jobs that would run, and why) and with
  `--logger-attnpipe-full-log` (every job with its inputs, outputs and reason, no bars).
Snakemake also writes its full log to .snakemake/log/ on every run, named at the end.

A package of its own beside attnpipe (Snakemake finds logger plugins by this module name); attnpipe itself
never imports Snakemake.
"""

import sys
from dataclasses import dataclass, field

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text
from snakemake.logging import ColorizingTextHandler, DefaultFilter, DefaultFormatter
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase
from snakemake_logger_plugin_rich import LogHandler as RichLogHandler
from snakemake_logger_plugin_rich.event_handler import EventHandler

TOTAL = "Total Progress"  # the rich plugin's name for the whole sweep's bar
ERRORS = (LogEvent.JOB_ERROR, LogEvent.GROUP_ERROR)


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    full_log: bool = field(
        default=False,
        metadata={"help": "Print Snakemake's own full log (every job, its inputs, outputs and reason), no bars."},
    )


def duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


class SweepEvents(EventHandler):
    def time_left(self) -> float | None:
        """Seconds left: each unfinished rule's own estimate, added up; None while one is unknown (a rule
        with a single job, such as the summary, counts as no time)."""
        seconds = 0.0
        for rule, counts in self.rule_counts.items():
            left = counts["total"] - counts["completed"]
            task = self.progress_display.rule_tasks.get(rule)
            estimate = self.progress.tasks[task].time_remaining if task is not None and left else 0.0
            if estimate is None and counts["total"] > 1:
                return None
            seconds += estimate or 0.0
        return seconds

    def handle_job_finished(self, event_data, **kwargs) -> None:
        super().handle_job_finished(event_data, **kwargs)
        info = self.jobs_info.get(event_data.job_id)
        if self.console.is_terminal or info is None:
            return  # the bars show it
        wildcards = ", ".join(f"{name}={value}" for name, value in (info["wildcards"] or {}).items())
        pct = round(100 * self.completed / self.total_jobs) if self.total_jobs else 100
        left = self.time_left()
        eta = "" if self.completed >= self.total_jobs else (
            f", about {duration(left)} left" if left is not None else ", estimating the time left")
        line = f"{self.completed} of {self.total_jobs} steps ({pct}%) done: {info['rule']} {wildcards}".rstrip()
        self.console.print(Text(line + eta), soft_wrap=True)


class TimeLeftColumn(ProgressColumn):
    def __init__(self, events: SweepEvents):
        super().__init__()
        self.events = events

    def render(self, task) -> Text:
        seconds = self.events.time_left() if task.id == self.events.progress_display.rule_tasks.get(TOTAL) else (
            task.time_remaining if not task.finished else 0)
        return Text("left " + ("?" if seconds is None else duration(seconds)), style="progress.remaining")


class LogHandler(RichLogHandler):
    def __post_init__(self) -> None:
        full_log = self.settings is not None and self.settings.full_log
        super().__post_init__()  # the rich plugin keeps the common settings in self.settings
        common = self.common_settings
        self.event_handler = SweepEvents(
            console=self.console, progress=self.progress, live_display=self.live_display, dryrun=common.dryrun,
            printshellcmds=common.printshellcmds, show_failed_logs=common.show_failed_logs, verbose=common.verbose,
        )
        self.progress.speed_estimate_period = 3600  # a rule's pace from its last hour of jobs, not 30 s
        self.progress.columns = (
            SpinnerColumn(spinner_name="dots", style="default", finished_text="[dim green]✓"),
            TextColumn("{task.fields[active]}", style="default"),  # jobs of this rule running now
            TextColumn("[bold blue]{task.description}"),
            BarColumn(bar_width=None, complete_style="green", finished_style="dim green"),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeLeftColumn(self.event_handler),
        )
        self.snakemake_format = DefaultFormatter(common.quiet, common.show_failed_logs)
        self.snakemake_output = None
        if full_log or common.dryrun:  # Snakemake's own stream handler, as without a logger plugin
            self.snakemake_output = ColorizingTextHandler(
                nocolor=common.nocolor, stream=sys.stdout if common.stdout else sys.stderr,
                formatter=self.snakemake_format,
                filter=DefaultFilter(common.quiet, common.debug_dag, common.verbose, common.dryrun,
                                     common.printshellcmds))

    def emit(self, record):
        if self.snakemake_output is not None:
            if self.snakemake_output.filter(record):
                self.snakemake_output.emit(record)
        elif getattr(record, "event", None) in ERRORS:
            self.console.print(Text(self.snakemake_format.format(record), style="bold red"), soft_wrap=True)
        else:
            super().emit(record)

    def close(self):
        if self.snakemake_output is not None:
            self.snakemake_output.close()
        super().close()
