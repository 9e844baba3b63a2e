/**
 * eduproject-completer: inline code completion (ghost text) in JupyterLab notebooks, through
 * JupyterLab's inline completer API (4.1+), under the course's AI policy.
 *
 * Each keystroke cancels the request in flight (here and on the server); automatic requests
 * wait DEBOUNCE_MS for the learner to pause; answers are kept in a small cache, and typing
 * the start of a suggestion shows the rest without asking again. Where the policy turns
 * completion off (a graded exercise's solution cell, by default) no request is made at all;
 * the server and the gateway refuse such requests anyway. Tab accepts a suggestion, and the
 * server marks its ledger row accepted.
 *
 * The Python side is eduproject/learner/completion_server.py; see docs/completion.md.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  CompletionHandler,
  ICompletionProviderManager,
  IInlineCompletionContext,
  IInlineCompletionList,
  IInlineCompletionProvider,
  InlineCompletionTriggerKind
} from '@jupyterlab/completer';
import { URLExt } from '@jupyterlab/coreutils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';

const DEBOUNCE_MS = 250;
const CACHE_SIZE = 64;
const CELLS_ABOVE = 3;
const CELLS_BELOW = 1;
const POLICY_TTL_MS = 30_000;
const ACCEPT_COMMAND = 'inline-completer:accept';
const EMPTY: IInlineCompletionList = { items: [] };

interface IExercisePolicy {
  complete: boolean;
  solutions: boolean;
  reason: string;
}

interface INotebookPolicy {
  complete: boolean;
  reason: string;
  instructor: boolean;
  exercises: { [id: string]: IExercisePolicy };
}

interface IWhere {
  path: string;
  lesson: string | null;
  exercise: string | null;
  role: string | null;
  above: string[];
  below: string[];
}

interface ISuggestion {
  prefix: string;
  suffix: string;
  text: string;
  attemptId: number | null;
}

/** The cell around the cursor, its neighbours and its eduproject metadata. */
function locate(widget: unknown): IWhere | null {
  if (!(widget instanceof NotebookPanel)) {
    return null;
  }
  const notebook = widget.content;
  const cell = notebook.activeCell;
  if (!cell || cell.model.type !== 'code') {
    return null;
  }
  const meta = (cell.model.getMetadata('eduproject') ?? {}) as Record<string, unknown>;
  const nbMeta = (widget.model?.getMetadata('eduproject') ?? {}) as Record<string, unknown>;
  const codeOf = (index: number): string | null => {
    const other = notebook.widgets[index];
    const role = (other.model.getMetadata('eduproject') ?? {}).role;
    // The tutor's panel cells are not code the learner writes.
    return other.model.type === 'code' && role !== 'panel'
      ? other.model.sharedModel.getSource()
      : null;
  };
  const above: string[] = [];
  for (let i = notebook.activeCellIndex - 1; i >= 0 && above.length < CELLS_ABOVE; i--) {
    const code = codeOf(i);
    if (code !== null && code.trim()) {
      above.unshift(code);
    }
  }
  const below: string[] = [];
  for (
    let i = notebook.activeCellIndex + 1;
    i < notebook.widgets.length && below.length < CELLS_BELOW;
    i++
  ) {
    const code = codeOf(i);
    if (code !== null && code.trim()) {
      below.push(code);
    }
  }
  const text = (value: unknown): string | null =>
    typeof value === 'string' && value ? value : null;
  return {
    path: widget.context.path,
    lesson: text(nbMeta.lesson),
    exercise: text(meta.exercise) ?? exerciseAbove(notebook.widgets, notebook.activeCellIndex),
    role: text(meta.role),
    above,
    below
  };
}

/**
 * The exercise a cell the learner added belongs to: that of the nearest released cell above
 * (null outside exercises). Its policy applies; it is not a solution cell.
 */
function exerciseAbove(
  cells: ReadonlyArray<{ model: { getMetadata(key: string): any } }>,
  index: number
): string | null {
  for (let i = index - 1; i >= 0; i--) {
    const meta = cells[i].model.getMetadata('eduproject');
    if (meta && typeof meta === 'object' && 'exercise' in meta) {
      return typeof meta.exercise === 'string' && meta.exercise ? meta.exercise : null;
    }
  }
  return null;
}

class EduprojectInlineProvider implements IInlineCompletionProvider {
  readonly identifier = 'eduproject';
  readonly name = 'eduproject';
  // Merged into the provider's settings by JupyterLab: a local model on a CPU needs time.
  readonly schema = { type: 'object' as const, default: { timeout: 60_000 } };

  private _settings = ServerConnection.makeSettings();
  private _client = Math.random().toString(36).slice(2) + Date.now().toString(36);
  private _latest = 0;
  private _controller: AbortController | null = null;
  private _cache = new Map<string, ISuggestion>();
  private _last: (ISuggestion & { path: string }) | null = null;
  private _policies = new Map<string, { at: number; policy: Promise<INotebookPolicy | null> }>();

  async fetch(
    request: CompletionHandler.IRequest,
    context: IInlineCompletionContext
  ): Promise<IInlineCompletionList> {
    const token = ++this._latest;
    this._cancel(); // the learner typed on: the answer in flight is stale
    const where = locate(context.widget);
    if (!where) {
      return EMPTY;
    }
    const prefix = request.text.slice(0, request.offset);
    const suffix = request.text.slice(request.offset);
    if (!prefix.trim()) {
      return EMPTY;
    }
    const policy = await this._policy(where);
    if (!policy || !allowed(policy, where) || token !== this._latest) {
      return EMPTY;
    }
    const known = this._known(where.path, prefix, suffix);
    if (known !== null) {
      return known;
    }
    if (context.triggerKind === InlineCompletionTriggerKind.Automatic) {
      await new Promise(resolve => setTimeout(resolve, DEBOUNCE_MS));
      if (token !== this._latest) {
        return EMPTY;
      }
    }
    const controller = new AbortController();
    this._controller = controller;
    try {
      const response = await ServerConnection.makeRequest(
        URLExt.join(this._settings.baseUrl, 'eduproject', 'complete'),
        {
          method: 'POST',
          body: JSON.stringify({
            path: where.path,
            client: this._client,
            prefix,
            suffix,
            above: where.above,
            below: where.below,
            lesson: where.lesson,
            exercise: where.exercise,
            role: where.role
          }),
          signal: controller.signal
        },
        this._settings
      );
      if (response.status !== 200) {
        return EMPTY;
      }
      const data = await response.json();
      const suggestion: ISuggestion = {
        prefix,
        suffix,
        text: typeof data.text === 'string' ? data.text : '',
        attemptId: typeof data.attempt_id === 'number' ? data.attempt_id : null
      };
      this._remember(where.path, suggestion);
      return this._offer(where.path, suggestion, suggestion.text);
    } catch (error) {
      return EMPTY; // aborted by the next keystroke, or the server is away: no suggestion
    } finally {
      if (this._controller === controller) {
        this._controller = null;
      }
    }
  }

  /** The learner pressed Tab: tell the server which suggestion was taken. */
  accepted(widget: unknown): void {
    const last = this._last;
    if (!last || last.attemptId === null || !(widget instanceof NotebookPanel)) {
      return;
    }
    const editor = widget.content.activeCell?.editor;
    if (!editor) {
      return;
    }
    const offset = editor.getOffsetAt(editor.getCursorPosition());
    const before = editor.model.sharedModel.getSource().slice(0, offset);
    if (widget.context.path !== last.path || !before.endsWith(last.text)) {
      return;
    }
    this._last = null;
    void ServerConnection.makeRequest(
      URLExt.join(this._settings.baseUrl, 'eduproject', 'complete', 'accept'),
      {
        method: 'POST',
        body: JSON.stringify({ path: last.path, attempt_id: last.attemptId })
      },
      this._settings
    ).catch(() => undefined);
  }

  private _offer(path: string, from: ISuggestion, text: string): IInlineCompletionList {
    if (!text) {
      return EMPTY;
    }
    this._last = { ...from, text, path };
    return { items: [{ insertText: text }] };
  }

  /** A cached answer, or the rest of the last one when the learner typed its start. */
  private _known(path: string, prefix: string, suffix: string): IInlineCompletionList | null {
    const hit = this._cache.get(key(path, prefix, suffix));
    if (hit) {
      return this._offer(path, hit, hit.text);
    }
    const last = this._last;
    if (last && last.path === path && last.suffix === suffix && prefix.startsWith(last.prefix)) {
      const typed = prefix.slice(last.prefix.length);
      if (typed && last.text.startsWith(typed) && typed.length < last.text.length) {
        const rest: ISuggestion = { ...last, prefix, text: last.text.slice(typed.length) };
        return this._offer(path, rest, rest.text);
      }
    }
    return null;
  }

  private _remember(path: string, suggestion: ISuggestion): void {
    const k = key(path, suggestion.prefix, suggestion.suffix);
    this._cache.delete(k);
    this._cache.set(k, suggestion);
    if (this._cache.size > CACHE_SIZE) {
      this._cache.delete(this._cache.keys().next().value as string);
    }
  }

  private _cancel(): void {
    const controller = this._controller;
    if (!controller) {
      return;
    }
    this._controller = null;
    controller.abort();
    void ServerConnection.makeRequest(
      URLExt.join(this._settings.baseUrl, 'eduproject', 'complete', 'cancel'),
      { method: 'POST', body: JSON.stringify({ client: this._client }) },
      this._settings
    ).catch(() => undefined);
  }

  private _policy(where: IWhere): Promise<INotebookPolicy | null> {
    const k = `${where.path}\u0000${where.lesson ?? ''}`;
    const cached = this._policies.get(k);
    if (cached && Date.now() - cached.at < POLICY_TTL_MS) {
      return cached.policy;
    }
    const url = URLExt.join(this._settings.baseUrl, 'eduproject', 'complete', 'policy');
    const query = URLExt.objectToQueryString({ path: where.path, lesson: where.lesson ?? '' });
    const policy = ServerConnection.makeRequest(url + query, {}, this._settings)
      .then(response => (response.ok ? (response.json() as Promise<INotebookPolicy>) : null))
      .catch(() => null);
    this._policies.set(k, { at: Date.now(), policy });
    return policy;
  }
}

/** Whether the policy lets this cell ask at all (the server decides again). */
function allowed(policy: INotebookPolicy, where: IWhere): boolean {
  if (policy.instructor) {
    return true;
  }
  const exercise = where.exercise ? policy.exercises[where.exercise] : undefined;
  if (!exercise) {
    return policy.complete;
  }
  return exercise.complete && (where.role !== 'solution' || exercise.solutions);
}

function key(path: string, prefix: string, suffix: string): string {
  return `${path}\u0000${prefix}\u0000${suffix}`;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'eduproject-completer:plugin',
  description: 'Inline code completion by the course model, under the course AI policy.',
  autoStart: true,
  requires: [ICompletionProviderManager],
  activate: (app: JupyterFrontEnd, manager: ICompletionProviderManager): void => {
    const provider = new EduprojectInlineProvider();
    manager.registerInlineProvider(provider);
    app.commands.commandExecuted.connect((_, args) => {
      if (args.id === ACCEPT_COMMAND) {
        provider.accepted(app.shell.currentWidget);
      }
    });
  }
};

export default plugin;
