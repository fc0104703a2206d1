/**
 * graders-hub: where a student submits, what became of each submission.
 *
 * Polls the single-user server's `graders/grades` endpoint (graders/hub/serverext.py, which asks the
 * hub's grading service as the student) and shows, without a page reload:
 *  - in the top bar of every page (Notebook 7 and JupyterLab): the newest submission's state
 *    (queued, grading, graded, failed), its score with the late penalty, and a link to its feedback;
 *  - a "Grades" tab beside Files in Notebook 7's tree (a side panel in JupyterLab): every released
 *    homework with its state, score, details (why it failed, late penalty, submissions left) and
 *    feedback link.
 * Every word comes from the service, in the student's language; text is set as text, never as HTML.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { INotebookTree } from '@jupyter-notebook/tree';
import { Widget } from '@lumino/widgets';

/** Poll this often while a submission waits or is being graded, and otherwise. */
const BUSY_MS = 2000;
const IDLE_MS = 10000;
/** After a click on a Submit button of nbgrader's Assignments list, poll at BUSY_MS this long: the new
 * submission shows as queued or grading without waiting for the idle poll, which may come once it is graded. */
const SUBMITTED_MS = 60000;

/** One released homework as the service describes it (graders.hub.pages.submission_view). */
interface IHomework {
  assignment_id: string;
  state: 'queued' | 'grading' | 'graded' | 'failed' | null;
  state_text: string;
  score_text: string;
  submitted: string;
  details: string[];
  feedback_url: string | null;
  status: { timestamp: string } | null;
}

interface IGrades {
  lang: string;
  labels: Record<string, string>;
  homeworks: IHomework[];
}

/** The student's grades, asked again every few seconds while the page is visible. */
class GradesModel {
  grades: IGrades | null = null;
  error = '';
  private listeners: Array<() => void> = [];
  private timer = 0;
  private watchUntil = 0;
  private settings = ServerConnection.makeSettings();

  constructor() {
    document.addEventListener(
      'click',
      event => {
        if ((event.target as Element | null)?.closest?.('#fetched_assignments_list button')) {
          this.watchSubmission();
        }
      },
      true
    );
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) {
        void this.refresh();
      }
    });
  }

  /** A Submit button was clicked: ask again as soon as nbgrader lists the new submission (grading on a warm
   * runner may take under BUSY_MS), then every BUSY_MS for SUBMITTED_MS. */
  private watchSubmission(): void {
    this.watchUntil = Date.now() + SUBMITTED_MS;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.refresh(), BUSY_MS);
    const submitted = document.querySelector('#submitted_assignments_list');
    if (submitted !== null) {
      const observer = new MutationObserver(() => {
        observer.disconnect();
        void this.refresh();
      });
      observer.observe(submitted, { childList: true, subtree: true });
      window.setTimeout(() => observer.disconnect(), SUBMITTED_MS);
    }
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The newest submission, if any. */
  get newest(): IHomework | null {
    const submitted = (this.grades?.homeworks ?? []).filter(h => h.status !== null);
    submitted.sort((a, b) => (a.status!.timestamp < b.status!.timestamp ? 1 : -1));
    return submitted[0] ?? null;
  }

  async refresh(): Promise<void> {
    window.clearTimeout(this.timer);
    try {
      const url = URLExt.join(this.settings.baseUrl, 'graders', 'grades');
      const response = await ServerConnection.makeRequest(url, {}, this.settings);
      const body = await response.json();
      if (response.ok) {
        this.grades = body as IGrades;
        this.error = '';
      } else {
        this.error = body.error ?? response.statusText;
      }
    } catch (reason) {
      this.error = String(reason);
    }
    this.listeners.forEach(listener => listener());
    const busy =
      Date.now() < this.watchUntil ||
      (this.grades?.homeworks ?? []).some(h => h.state === 'queued' || h.state === 'grading');
    this.timer = window.setTimeout(() => {
      if (!document.hidden) {
        void this.refresh();
      }
    }, busy ? BUSY_MS : IDLE_MS);
  }
}

function element(tag: string, className: string, text = ''): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function feedbackLink(homework: IHomework, label: string): HTMLElement {
  const link = element('a', 'graders-feedback-link', label) as HTMLAnchorElement;
  link.href = homework.feedback_url ?? '';
  link.target = '_blank';
  link.rel = 'noopener';
  return link;
}

/** Every released homework: state, score, details, feedback. */
class GradesPanel extends Widget {
  constructor(private model: GradesModel) {
    super();
    this.id = 'graders-grades';
    this.addClass('graders-grades');
    this.title.label = 'Grades';
    model.onChange(() => this.show_grades());
  }

  private show_grades(): void {
    const grades = this.model.grades;
    this.node.textContent = '';
    if (this.model.error) {
      this.node.appendChild(element('p', 'graders-error', this.model.error));
    }
    if (grades === null) {
      return;
    }
    const labels = grades.labels;
    this.title.label = labels.title;
    const table = element('table', 'graders-grades-table');
    const head = table.appendChild(element('tr', ''));
    for (const key of ['homework', 'submitted', 'state', 'score', 'details', 'feedback']) {
      head.appendChild(element('th', '', labels[key]));
    }
    for (const homework of grades.homeworks) {
      const row = table.appendChild(element('tr', 'graders-homework'));
      row.dataset.hw = homework.assignment_id;
      row.appendChild(element('td', 'graders-hw', homework.assignment_id));
      row.appendChild(element('td', 'graders-submitted', homework.submitted));
      const state = row.appendChild(element('td', 'graders-state', homework.state_text));
      state.dataset.state = homework.state ?? 'none';
      row.appendChild(element('td', 'graders-score', homework.score_text));
      row.appendChild(element('td', 'graders-details', homework.details.join('; ')));
      const cell = row.appendChild(element('td', ''));
      if (homework.feedback_url) {
        cell.appendChild(feedbackLink(homework, labels.feedback));
      }
    }
    this.node.appendChild(table);
  }
}

/** The newest submission, in the top bar: "hw1: grading", then "hw1: graded 42.75 / 100 · feedback". */
class GradesIndicator extends Widget {
  constructor(private model: GradesModel, private open: (() => void) | null) {
    super();
    this.id = 'graders-indicator';
    this.addClass('graders-indicator');
    model.onChange(() => this.show_newest());
  }

  private show_newest(): void {
    const newest = this.model.newest;
    this.node.textContent = '';
    if (newest === null || this.model.grades === null) {
      return;
    }
    const summary = this.node.appendChild(element('span', 'graders-indicator-summary'));
    summary.appendChild(element('span', 'graders-indicator-hw', `${newest.assignment_id}: `));
    const state = summary.appendChild(element('span', 'graders-indicator-state', newest.state_text));
    state.dataset.state = newest.state ?? 'none';
    if (newest.score_text) {
      summary.appendChild(element('span', 'graders-indicator-score', newest.score_text));
    }
    summary.title = newest.details.join('\n');
    if (this.open !== null) {
      summary.classList.add('graders-clickable');
      summary.onclick = this.open;
    }
    if (newest.feedback_url && (newest.state === 'graded' || newest.state === 'failed')) {
      this.node.appendChild(feedbackLink(newest, this.model.grades.labels.feedback));
    }
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'graders-hub:grades',
  description: 'Grading state, score and feedback of each submitted homework.',
  autoStart: true,
  optional: [INotebookTree, ILabShell],
  activate: (app: JupyterFrontEnd, tree: INotebookTree | null, labShell: ILabShell | null) => {
    const model = new GradesModel();
    let open: (() => void) | null = null;
    if (tree !== null) {
      // Notebook 7's tree page: a tab beside Files and Running (as nbgrader's Assignments tab).
      const panel = new GradesPanel(model);
      tree.addWidget(panel);
      open = () => {
        tree.currentWidget = panel;
      };
    } else if (labShell !== null) {
      const panel = new GradesPanel(model);
      app.shell.add(panel, 'left', { rank: 1000 });
      open = () => app.shell.activateById(panel.id);
    }
    // Notebook 7 shows the top bar on every page (tree, notebooks); JupyterLab has one too.
    const page = PageConfig.getOption('notebookPage');
    if (labShell !== null || page === 'tree' || page === 'notebooks' || page === 'edit') {
      app.shell.add(new GradesIndicator(model, open), 'top', { rank: 1000 });
    }
    void model.refresh();
  }
};

export default plugin;
