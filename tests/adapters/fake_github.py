"""A small, stateful slice of GitHub's REST API on pytest-httpserver, in GitHub's own shapes.

Compare (paged with `Link` headers pointing at `/repositories/{id}/...` as GitHub's do, capped
at 250 chronologically-last commits when called without paging parameters), get-a-commit (422
for an unknown SHA), the issue listing (pull requests included, as GitHub lists them) and issue
creation; token check (401), primary and secondary rate limits (403/429) on demand.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

DOCS = "https://docs.github.com/rest"
_REPO_PATH = re.compile(
    r"^/(?:repos/(?P<full>[^/]+/[^/]+)|repositories/(?P<id>\d+))(?P<rest>/.*)?$"
)


def iso(value: datetime) -> str:
    """GitHub's timestamp form."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(login: str, uid: int) -> dict[str, Any]:
    """A simple-user object."""
    api = "https://api.github.com/users/" + login
    return {"login": login, "id": uid, "node_id": f"MDQ6VXNlcj{uid}", "type": "User",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "gravatar_id": "", "url": api, "html_url": "https://github.com/" + login,
            "site_admin": False}  # fmt: skip


@dataclass
class FakeRepo:
    id: int
    full_name: str
    commits: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    refs: dict[str, str] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)  # oldest first


class FakeGitHubApi:
    """Serves repositories, commits and issues; records every request it answers."""

    def __init__(self, server: HTTPServer, token: str) -> None:
        self.server = server
        self.token = token
        self.base = server.url_for("/").rstrip("/")
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, query
        self.limited: tuple[int, dict[str, str], dict[str, Any]] | None = None
        self.fail_status: int | None = None
        self.delay_s = 0.0
        self.compare_cap: int | None = None  # serve at most this many commits of a comparison
        server.expect_request(re.compile(r"^/.*")).respond_with_handler(self.handle)

    # --- seeding -------------------------------------------------------------------------------

    def add_repo(self, full_name: str) -> FakeRepo:
        repo = FakeRepo(1296269 + len(self.repos), full_name)
        self.repos[full_name] = repo
        return repo

    def commit_json(
        self, repo: FakeRepo, sha: str, *, name: str, authored: str, committed: str, message: str
    ) -> dict[str, Any]:
        """A commit as compare and get-a-commit list it (dates as given, GitHub sends Z)."""
        api = f"{self.base}/repos/{repo.full_name}"
        html = f"https://github.com/{repo.full_name}"
        parents = [
            {
                "sha": p["sha"],
                "url": f"{api}/commits/{p['sha']}",
                "html_url": f"{html}/commit/{p['sha']}",
            }
            for p in repo.commits[-1:]
        ]
        email = name.lower().replace(" ", ".") + "@example.com"
        return {
            "url": f"{api}/commits/{sha}", "sha": sha, "node_id": "C_kwDO" + sha[:20],
            "html_url": f"{html}/commit/{sha}", "comments_url": f"{api}/commits/{sha}/comments",
            "commit": {
                "url": f"{api}/git/commits/{sha}",
                "author": {"name": name, "email": email, "date": authored},
                "committer": {"name": "GitHub", "email": "noreply@github.com", "date": committed},
                "message": message,
                "tree": {"url": f"{api}/git/trees/{'e' * 40}", "sha": "e" * 40},
                "comment_count": 0,
                "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                 "payload": None, "verified_at": None},
            },
            "author": user("octocat", 1), "committer": user("web-flow", 19864447),
            "parents": parents,
        }  # fmt: skip

    def add_issue(self, repo: FakeRepo, title: str, body: str | None, labels: list[str],
                  *, pull_request: bool = False) -> dict[str, Any]:  # fmt: skip
        number = len(repo.issues) + 1
        api = f"{self.base}/repos/{repo.full_name}/issues/{number}"
        html = f"https://github.com/{repo.full_name}/{'pull' if pull_request else 'issues'}"
        issue: dict[str, Any] = {
            "id": 1000 + number, "node_id": f"I_kwDO{number:06d}", "url": api,
            "repository_url": f"{self.base}/repos/{repo.full_name}",
            "labels_url": api + "/labels{/name}", "comments_url": api + "/comments",
            "events_url": api + "/events", "html_url": f"{html}/{number}", "number": number,
            "state": "open", "state_reason": None, "title": title, "body": body,
            "user": user("controlplane-bot", 42),
            "labels": [{"id": 200 + i, "node_id": f"LA_{i}", "url": f"{api}/labels/{name}",
                        "name": name, "description": "", "color": "d73a4a", "default": False}
                       for i, name in enumerate(labels)],
            "assignee": None, "assignees": [], "milestone": None, "locked": False,
            "active_lock_reason": None, "comments": 0, "closed_at": None,
            "created_at": "2026-03-04T10:00:00Z", "updated_at": "2026-03-04T10:00:00Z",
            "closed_by": None, "author_association": "NONE",
        }  # fmt: skip
        if pull_request:
            issue["pull_request"] = {"url": f"{self.base}/repos/{repo.full_name}/pulls/{number}",
                                     "html_url": f"{html}/{number}", "diff_url": None,
                                     "patch_url": None, "merged_at": None}  # fmt: skip
        repo.issues.append(issue)
        return issue

    # --- the server ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        query = {k: v for k, v in request.args.items()}
        self.requests.append((request.method, request.path, query))
        if self.delay_s:
            time.sleep(self.delay_s)
        if request.headers.get("Authorization") not in (f"token {self.token}",
                                                        f"Bearer {self.token}"):  # fmt: skip
            return self._error(401, "Bad credentials")
        if self.limited is not None:
            status, headers, body = self.limited
            return Response(json.dumps(body), status, headers, content_type="application/json")
        if self.fail_status is not None:
            return self._error(self.fail_status, "Server Error")
        match = _REPO_PATH.match(request.path)
        repo = self._find(match)
        if match is None or repo is None:
            return self._error(404, "Not Found")
        rest = match.group("rest") or ""
        if rest == "" and request.method == "GET":
            return self._json(self._repo_json(repo))
        if compare := re.fullmatch(r"/compare/(.+?)\.\.\.(.+)", rest):
            return self._compare(request, repo, compare.group(1), compare.group(2))
        if (commit := re.fullmatch(r"/commits/(.+)", rest)) and request.method == "GET":
            found = self._resolve(repo, commit.group(1))
            if found is None:
                return self._error(422, f"No commit found for SHA: {commit.group(1)}")
            return self._json(repo.commits[found])
        if rest == "/issues" and request.method == "GET":
            return self._issues(request, repo)
        if rest == "/issues" and request.method == "POST":
            sent = json.loads(request.get_data())
            made = self.add_issue(repo, sent["title"], sent.get("body"), sent.get("labels", []))
            return self._json(made, 201, {"Location": made["url"]})
        return self._error(404, "Not Found")

    def _find(self, match: re.Match[str] | None) -> FakeRepo | None:
        if match is None:
            return None
        if match.group("full"):
            return self.repos.get(match.group("full"))
        return next((r for r in self.repos.values() if r.id == int(match.group("id"))), None)

    def _resolve(self, repo: FakeRepo, ref: str) -> int | None:
        sha = repo.refs.get(ref, ref)
        hits = [i for i, c in enumerate(repo.commits) if len(sha) >= 7 and c["sha"].startswith(sha)]
        return hits[0] if len(hits) == 1 else None

    def _compare(self, request: Request, repo: FakeRepo, base: str, head: str) -> Response:
        start, end = self._resolve(repo, base), self._resolve(repo, head)
        if start is None or end is None:
            return self._error(404, "Not Found", "commits/commits#compare-two-commits")
        ahead = repo.commits[start + 1 : end + 1]
        body = {
            "url": f"{self.base}/repos/{repo.full_name}/compare/{base}...{head}",
            "html_url": f"https://github.com/{repo.full_name}/compare/{base}...{head}",
            "permalink_url": f"https://github.com/{repo.full_name}/compare/"
            f"{repo.commits[start]['sha'][:7]}...{repo.commits[end]['sha'][:7]}",
            "diff_url": f"https://github.com/{repo.full_name}/compare/{base}...{head}.diff",
            "patch_url": f"https://github.com/{repo.full_name}/compare/{base}...{head}.patch",
            "base_commit": repo.commits[start], "merge_base_commit": repo.commits[start],
            "status": "ahead" if ahead else "identical", "ahead_by": len(ahead), "behind_by": 0,
            "total_commits": len(ahead),
        }  # fmt: skip
        served = ahead[: self.compare_cap] if self.compare_cap is not None else ahead
        if "page" not in request.args and "per_page" not in request.args:
            # GitHub's unpaged answer: the 250 most recent commits, no Link header.
            return self._json(body | {"commits": served[-250:], "files": []})
        page, per_page = int(request.args.get("page", 1)), int(request.args.get("per_page", 250))
        path = f"/repositories/{repo.id}/compare/{base}...{head}"
        chunk, links = self._page(served, path, page, per_page, {})
        files = {"files": []} if page == 1 else {}  # changed files come with the first page only
        return self._json(body | {"commits": chunk} | files, 200, links)

    def _issues(self, request: Request, repo: FakeRepo) -> Response:
        state = request.args.get("state", "open")
        issues = [i for i in repo.issues if state == "all" or i["state"] == state]
        if request.args.get("direction", "desc") == "desc":
            issues = issues[::-1]
        page, per_page = int(request.args.get("page", 1)), int(request.args.get("per_page", 30))
        keep = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}
        chunk, links = self._page(issues, f"/repositories/{repo.id}/issues", page, per_page, keep)
        return self._json(chunk, 200, links)

    def _page(
        self, items: list[Any], path: str, page: int, per_page: int, keep: dict[str, str]
    ) -> tuple[list[Any], dict[str, str]]:
        last = max(1, -(-len(items) // per_page))

        def url(n: int) -> str:
            return f"{self.base}{path}?{urlencode(keep | {'per_page': per_page, 'page': n})}"

        rels = []
        if page > 1:
            rels += [f'<{url(page - 1)}>; rel="prev"']
        if page < last:
            rels += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            rels += [f'<{url(1)}>; rel="first"']
        chunk = items[(page - 1) * per_page : page * per_page]
        return chunk, ({"Link": ", ".join(rels)} if rels else {})

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        owner = repo.full_name.split("/")[0]
        return {"id": repo.id, "node_id": f"R_kgDO{repo.id}", "name": repo.full_name.split("/")[1],
                "full_name": repo.full_name, "private": True, "owner": user(owner, 7),
                "html_url": "https://github.com/" + repo.full_name,
                "url": f"{self.base}/repos/{repo.full_name}", "default_branch": "main"}  # fmt: skip

    def _json(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        headers = {"X-GitHub-Api-Version-Selected": "2022-11-28",
                   "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999",
                   "X-RateLimit-Reset": "1772621400", "X-RateLimit-Used": "1",
                   "X-RateLimit-Resource": "core", **(headers or {})}  # fmt: skip
        return Response(json.dumps(body), status, headers, content_type="application/json")

    def _error(self, status: int, message: str, doc: str = "") -> Response:
        body = {"message": message, "documentation_url": f"{DOCS}/{doc}".rstrip("/"),
                "status": str(status)}  # fmt: skip
        return self._json(body, status)
